-- 0006_image_alias: images agentd got through a delta, by the reference the
-- target names (often a digest, which the engine cannot tag): the engine's
-- id of the image that reference is, as long as the engine has it.
CREATE TABLE image_alias (
	ref TEXT PRIMARY KEY NOT NULL,
	image_id TEXT NOT NULL
);

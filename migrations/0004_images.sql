-- 0004_images: images agentd pulled, so that it removes them (and only them)
-- once no target and no container uses them.
CREATE TABLE pulled_image (
	ref TEXT PRIMARY KEY NOT NULL,
	pulled_at TEXT NOT NULL
);

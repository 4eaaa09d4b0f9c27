-- 0005_made: what agentd knows of each container it made (by the engine's
-- id): the hash of the config it was made from and the boot that made it.
-- Kept here, not as labels, so that agentd's containers carry exactly the
-- labels of the balena supervisor's own and a device can go back to it.
CREATE TABLE made (
	id TEXT PRIMARY KEY NOT NULL,
	hash TEXT NOT NULL,
	boot_id TEXT NOT NULL DEFAULT ''
);

-- 0001_init: settings kept by agentd itself (API keys, local mode, ...),
-- as string key/value pairs like the balena supervisor's `config` table.
CREATE TABLE config (
	key TEXT PRIMARY KEY NOT NULL,
	value TEXT
);

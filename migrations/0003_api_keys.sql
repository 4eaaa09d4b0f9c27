-- 0003_api_keys: keys of the local API (balena's apiSecret). The global key
-- has app_id 0 and no service; a service labelled
-- io.balena.features.supervisor-api gets one scoped to its app.
CREATE TABLE api_secret (
	id INTEGER PRIMARY KEY,
	app_id INTEGER NOT NULL,
	service_name TEXT,
	key TEXT NOT NULL UNIQUE,
	scopes TEXT NOT NULL,
	UNIQUE (app_id, service_name)
);
INSERT INTO api_secret (app_id, service_name, key, scopes)
	SELECT 0, NULL, value, '[{"type":"global"}]' FROM config WHERE key = 'apiSecret.global';
DELETE FROM config WHERE key = 'apiSecret.global';

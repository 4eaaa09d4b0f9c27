-- 0002_state: the target state and what has been applied of it.
-- The target is kept whole, in agentd's internal form (see agentd/target.h).
CREATE TABLE target_state (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	json TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
-- The release each app is fully on (balena's currentCommit).
CREATE TABLE current_commit (
	app_uuid TEXT PRIMARY KEY NOT NULL,
	app_id INTEGER NOT NULL,
	commit_id TEXT NOT NULL
);

"""agentd's SQLite database: WAL mode, migrations applied once."""
import os
import sqlite3

from lib import Agentd, TempDir


def _query(path, sql):
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_database_is_wal_with_migrations_applied_once():
    with TempDir() as d:
        with Agentd(workdir=d) as a:
            a.wait_log(r"^agentd: database: applied migration 0001_init$")
            assert a.stop() == 0
            first_log = a.log()
        path = os.path.join(d, "data", "database.sqlite")
        assert os.path.isfile(path), "no %s" % path
        assert _query(path, "PRAGMA journal_mode") == [("wal",)]
        names = [r[0] for r in _query(path, "SELECT name FROM migrations ORDER BY id")]
        assert "0001_init" in names, names
        assert len(names) == len(set(names)), names
        # 0001_init creates the config table.
        assert _query(path, "SELECT name FROM sqlite_master WHERE name = 'config'") == \
            [("config",)]

        with Agentd(workdir=d) as b:
            assert b.log_path != a.log_path
            assert b.stop() == 0
            second_log = b.log()
        assert "applied migration" in first_log
        assert "applied migration" not in second_log, second_log
        again = [r[0] for r in _query(path, "SELECT name FROM migrations ORDER BY id")]
        assert again == names, (names, again)

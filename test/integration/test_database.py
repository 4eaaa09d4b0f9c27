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
        path = os.path.join(d, "data", "agentd.sqlite")
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


def test_an_agentd_database_under_the_old_name_becomes_agentd_sqlite():
    with TempDir() as d:
        with Agentd(workdir=d) as a:
            assert a.stop() == 0
        data = os.path.join(d, "data")
        os.rename(os.path.join(data, "agentd.sqlite"), os.path.join(data, "database.sqlite"))
        for tail in ("-wal", "-shm"):
            if os.path.exists(os.path.join(data, "agentd.sqlite" + tail)):
                os.rename(os.path.join(data, "agentd.sqlite" + tail),
                          os.path.join(data, "database.sqlite" + tail))
        db = sqlite3.connect(os.path.join(data, "database.sqlite"))
        db.execute("INSERT INTO config (key, value) VALUES ('marker', 'kept')")
        db.commit()
        db.close()
        with Agentd(workdir=d) as b:
            b.wait_log(r"database: .*/database\.sqlite is now .*/agentd\.sqlite")
            assert b.stop() == 0
            assert "applied migration" not in b.log()
        assert not os.path.exists(os.path.join(data, "database.sqlite"))
        assert _query(os.path.join(data, "agentd.sqlite"),
                      "SELECT value FROM config WHERE key = 'marker'") == [("kept",)]


def test_the_node_supervisors_database_is_never_touched():
    with TempDir() as d:
        data = os.path.join(d, "data")
        os.mkdir(data, 0o700)
        node = os.path.join(data, "database.sqlite")
        db = sqlite3.connect(node)
        db.executescript("CREATE TABLE knex_migrations (id INTEGER PRIMARY KEY, name TEXT);"
                         "CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT);"
                         "INSERT INTO config VALUES ('name', 'node');")
        db.commit()
        db.close()
        with open(node, "rb") as f:
            before = f.read()
        mtime = os.stat(node).st_mtime_ns
        with Agentd(workdir=d) as a:
            assert a.stop() == 0
        with open(node, "rb") as f:
            assert f.read() == before, "the Node supervisor's database was written"
        assert os.stat(node).st_mtime_ns == mtime
        assert os.path.exists(os.path.join(data, "agentd.sqlite"))

"""Start-up errors: agentd exits 1 with one line on stderr and starts no child.

Each case runs agentd under run_reaped(), whose helper is a child subreaper:
had agentd forked a child, it would be left to the helper and reported."""
import os
import sqlite3

from lib import SUN_PATH_MAX, Agentd, TempDir, binary, free_port, run_reaped, write_json


def _argv(d, config=None, settings=None, sock=None, extra=()):
    cfg = os.path.join(d, "config.json")
    if config is not None:
        write_json(cfg, config)
    argv = [binary(), "-f", "-c", cfg, "-d", os.path.join(d, "data"),
            "-s", sock or os.path.join(d, "engine.sock"), "-a", "127.0.0.1",
            "-r", os.path.join(d, "run")]
    if settings is not None:
        argv += ["-C", write_json(os.path.join(d, "agentd.json"), settings)]
    return argv + list(extra)


def _expect_startup_error(argv, *needles):
    """Run argv; assert exit 1, exactly one stderr line containing every needle,
    and no process left behind. Returns the line."""
    res = run_reaped(argv)
    err = res["stderr"]
    assert res["rc"] == 1, "exit status %r, not 1; stderr: %r" % (res["rc"], err)
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), "stderr is not one line: %r" % err
    assert lines[0].startswith("agentd: error: "), "unexpected stderr line: %r" % lines[0]
    for n in needles:
        assert n in lines[0], "stderr %r does not mention %r" % (lines[0], n)
    assert res["descendants"] == [], "agentd left processes behind: %r" % res["descendants"]
    return lines[0]


def test_missing_config_json_is_refused():
    with TempDir() as d:
        argv = _argv(d)  # no config.json written
        _expect_startup_error(argv, os.path.join(d, "config.json"), "cannot open")
        assert not os.path.exists(os.path.join(d, "data")), "data dir created anyway"


def test_invalid_json_config_is_refused():
    with TempDir() as d:
        _expect_startup_error(_argv(d, config='{"listenPort": 1,'), "invalid JSON")


def test_config_json_wrong_type_is_refused():
    with TempDir() as d:
        _expect_startup_error(_argv(d, config={"listenPort": "abc"}), "listenPort")


def test_config_json_port_out_of_range_is_refused():
    with TempDir() as d:
        _expect_startup_error(_argv(d, config={"listenPort": 0}), "listenPort")
        _expect_startup_error(_argv(d, config={"listenPort": 65536}), "listenPort")


def test_config_json_not_an_object_is_refused():
    with TempDir() as d:
        _expect_startup_error(_argv(d, config="[1, 2]"), "object")


def test_agentd_json_unknown_key_is_refused():
    with TempDir() as d:
        argv = _argv(d, config={"listenPort": free_port()},
                     settings={"ping_interval_ms": 1000, "frobnicate": 1})
        _expect_startup_error(argv, "agentd.json", "frobnicate")


def test_agentd_json_unknown_daemon_is_refused():
    with TempDir() as d:
        argv = _argv(d, config={"listenPort": free_port()},
                     settings={"daemons": {"sshd": {"restart": "always"}}})
        _expect_startup_error(argv, "agentd.json", "sshd")


def test_agentd_json_unknown_daemon_key_is_refused():
    with TempDir() as d:
        argv = _argv(d, config={"listenPort": free_port()},
                     settings={"daemons": {"apid": {"restartt": "always"}}})
        _expect_startup_error(argv, "daemons.apid", "restartt")


def test_agentd_json_bad_value_is_refused():
    with TempDir() as d:
        argv = _argv(d, config={"listenPort": free_port()},
                     settings={"daemons": {"apid": {"burst_limit": 0}}})
        _expect_startup_error(argv, "burst_limit")


def test_database_with_unknown_migration_is_refused():
    with TempDir() as d:
        data = os.path.join(d, "data")
        os.mkdir(data, 0o700)
        db = sqlite3.connect(os.path.join(data, "agentd.sqlite"))
        db.executescript(
            "CREATE TABLE migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
            " applied_at TEXT NOT NULL);"
            "INSERT INTO migrations(name, applied_at) VALUES ('9999_future','x');")
        db.commit()
        db.close()
        _expect_startup_error(_argv(d, config={"listenPort": free_port()}), "9999_future")
        db = sqlite3.connect(os.path.join(data, "agentd.sqlite"))
        names = [r[0] for r in db.execute("SELECT name FROM migrations")]
        db.close()
        assert names == ["9999_future"], "database modified: %r" % names


def test_engine_socket_path_too_long_is_refused():
    with TempDir() as d:
        for length in (SUN_PATH_MAX + 1, 300):
            sock = os.path.join(d, "s" * (length - len(d) - 1))
            assert len(sock) == length
            _expect_startup_error(_argv(d, config={"listenPort": free_port()}, sock=sock),
                                  "engine socket", sock)


def test_engine_socket_path_of_107_bytes_is_accepted():
    with TempDir() as d:
        sock = os.path.join(d, "s" * (SUN_PATH_MAX - len(d) - 1))
        assert len(sock) == SUN_PATH_MAX
        with Agentd(workdir=d, args=["-s", sock]) as a:
            assert a.http("GET", "/ping") == (200, "OK")


def test_bad_sandbox_mode_flag_is_refused():
    with TempDir() as d:
        _expect_startup_error(_argv(d, config={"listenPort": free_port()},
                                    extra=["-S", "maybe"]), "maybe")


def test_agentd_json_unknown_user_is_refused():
    with TempDir() as d:
        argv = _argv(d, {"listenPort": free_port()}, {"user": "no-such-user-here"})
        _expect_startup_error(argv, "unknown user", "no-such-user-here")


def test_a_host_root_without_its_boot_partition_is_one_clear_line():
    """The supervisor container whose /mnt/root has no boot partition mounted."""
    with TempDir() as d:
        root = os.path.join(d, "root")
        os.makedirs(os.path.join(root, "mnt"))
        argv = [binary(), "-f", "-d", os.path.join(d, "data"), "-s",
                os.path.join(d, "engine.sock")]
        res = run_reaped(argv, env={"AGENTD_HOST_ROOT": root})
        assert res["rc"] == 1, res
        lines = res["stderr"].splitlines()
        assert len(lines) == 1 and os.path.join(root, "mnt/boot/config.json") in lines[0], lines
        assert res["descendants"] == []

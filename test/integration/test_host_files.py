"""test_host_files.py - agentd as the balenaOS supervisor finds the device's files
(issue 11): with the host's root bound at a host root (/mnt/root in the supervisor
container; a fake one here), config.json, device-type.json, the boot and state
partitions, the OS's os-release and hostname, and the run dir the OS reads are all
found under it, with no flag; LISTEN_PORT and LED_FILE come from the environment the
start script sets; agentd's database is its own file."""
import json
import os
import subprocess
import time

import lib


def fake_root(d, hostname="fakehost"):
    root = os.path.join(d, "root")
    for sub in ("mnt/boot", "mnt/state", "etc", "tmp"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    lib.write_json(os.path.join(root, "mnt/boot/device-type.json"),
                   {"slug": "raspberrypi4-64", "arch": "aarch64"})
    with open(os.path.join(root, "etc/os-release"), "w") as f:
        f.write('ID=balena-os\nPRETTY_NAME="balenaOS 6.5.39+rev1"\n')
    with open(os.path.join(root, "etc/hostname"), "w") as f:
        f.write(hostname + "\n")
    return root


def test_the_host_root_holds_config_boot_state_os_and_run_dir():
    with lib.TempDir() as d:
        root = fake_root(d)
        led = os.path.join(root, "led")
        port = lib.free_port()
        with lib.Agentd(host_root=root, config={"listenPort": port},
                        env={"LED_FILE": led}) as ad:
            ad.port = port
            info = json.loads(ad.http("GET", "/v2/local/device-info")[1])["info"]
            assert info == {"arch": "aarch64", "deviceType": "raspberrypi4-64"}, info
            dev = json.loads(ad.http("GET", "/v1/device")[1])
            assert dev["os_version"] == "balenaOS 6.5.39+rev1", dev
            hc = json.loads(ad.http("GET", "/v1/device/host-config")[1])
            assert hc["network"]["hostname"] == "fakehost", hc
            # the state partition's host OS update breadcrumb holds reboots back
            open(os.path.join(root, "mnt/state/rollback-health-breadcrumb"), "w").close()
            st, body = ad.http("POST", "/v1/reboot")
            assert st == 423 and "Waiting for Host OS update to finish" in body, (st, body)
            # the target's config for the OS, in the host's run dir
            t = {"local": {"name": "x", "config": {"SUPERVISOR_LOCAL_MODE": "true",
                                                   "SUPERVISOR_OVERRIDE_LOCK": "1"},
                           "apps": {}}}
            st, body = ad.http("POST", "/v2/local/target-state", json.dumps(t),
                               {"Content-Type": "application/json"})
            assert st == 200, body
            dump = os.path.join(root, "tmp/balena-supervisor/target-state-config")
            lib.wait_until(lambda: os.path.exists(dump), 10, what="target-state-config")
            with open(dump) as f:
                assert json.load(f)["SUPERVISOR_OVERRIDE_LOCK"] == "1"
            # the LED of LED_FILE blinks
            assert ad.http("POST", "/v1/blink")[0] == 200
            lib.wait_until(lambda: os.path.exists(led), 10, what="the LED file written")
            # agentd's own database, never the Node supervisor's file name
            assert os.path.exists(os.path.join(ad.datadir, "agentd.sqlite"))
            assert not os.path.exists(os.path.join(ad.datadir, "database.sqlite"))
            ad.wait_log(r"host root %s" % root)


def test_listen_port_comes_from_the_environment_when_config_json_has_none():
    with lib.TempDir() as d:
        root = fake_root(d)
        port = lib.free_port()
        with lib.Agentd(host_root=root, config={}, env={"LISTEN_PORT": str(port)}) as ad:
            ad.port = port
            assert ad.http("GET", "/ping") == (200, "OK")
        # empty, as the start script passes it when config.json has no port: 48484
        # (another program on this machine may hold 48484: apid trying it is
        # as good a proof as apid listening on it)
        with lib.Agentd(host_root=root, config={}, env={"LISTEN_PORT": ""},
                        wait_ready=False) as ad:
            ad.wait_log(r"apid: (listening on|warning: cannot listen on) "
                        r"127\.0\.0\.1:48484(:|$)", 15)


def test_the_health_probe_answers_for_the_running_agentd():
    with lib.Agentd() as ad:
        env = lib.base_env({"LISTEN_PORT": str(ad.port)})
        probe = [lib.binary(), "-H"]
        assert subprocess.run(probe, env=env, capture_output=True, timeout=20).returncode == 0
        assert ad.stop() == 0
        r = subprocess.run(probe, env=env, capture_output=True, text=True, timeout=20)
        assert r.returncode == 1 and "cannot reach" in r.stderr, (r.returncode, r.stderr)


def test_config_json_is_never_left_half_written_by_a_power_cut():
    """kill -9 while agentd rewrites config.json, again and again: it always parses
    and has every key (temp file, fsync, rename, fsync of the directory)."""
    import random
    import signal
    import threading

    with lib.TempDir() as d:
        root = fake_root(d)
        pad = "x" * (2 << 20)  # a big file: each rewrite takes a while
        rng = random.Random(os.getpid())
        cuts = 0
        for i in range(25):
            port = lib.free_port()
            cfg = {"listenPort": port, "padding": pad, "hostname": "h%d" % i}
            ad = lib.Agentd(host_root=root, config=cfg, workdir=d)
            with ad:
                ad.port = port
                stop = threading.Event()

                def hammer():
                    n = 0
                    while not stop.is_set():
                        n += 1
                        try:
                            ad.http("PATCH", "/v1/device/host-config",
                                    json.dumps({"network": {"hostname": "n%d" % n}}),
                                    {"Content-Type": "application/json"}, timeout=2)
                        except OSError:
                            return
                t = threading.Thread(target=hammer)
                t.start()
                # some rewrites happen, then the power goes at a random point of one
                def rewritten():
                    with open(ad.config_path) as f:
                        return '"hostname":"n' in f.read()
                lib.wait_until(rewritten, 20, what="config.json rewritten")
                time.sleep(rng.uniform(0, 0.05))
                ad.stop(sig=signal.SIGKILL)
                cuts += 1
                stop.set()
                t.join(10)
            with open(os.path.join(root, "mnt/boot/config.json")) as f:
                got = json.load(f)  # must parse
            assert got["padding"] == pad and got["listenPort"] == port, sorted(got)
            assert got["hostname"].startswith("n"), got["hostname"]
        assert cuts == 25


def machine_chains():
    out = ""
    for tool in ("iptables", "ip6tables", "iptables-legacy", "ip6tables-legacy"):
        p = subprocess.run([tool, "-S"], capture_output=True, text=True)
        out += p.stdout
    return out


def test_a_host_root_given_by_hand_does_not_take_over_this_machines_firewall():
    """Only the balenaOS supervisor (the host found at /mnt/root) keeps the host's
    firewall by default; tests and operators that point agentd at a host root do
    not hand it this machine's iptables."""
    assert "BALENA-FIREWALL" not in machine_chains(), "left over from an earlier run"
    with lib.TempDir() as d:
        root = fake_root(d)
        port = lib.free_port()
        with lib.Agentd(host_root=root, config={"listenPort": port}) as ad:
            ad.port = port
            t = {"local": {"name": "x", "config": {"HOST_FIREWALL_MODE": "on"}, "apps": {}}}
            st, _ = ad.http("POST", "/v2/local/target-state", json.dumps(t),
                            {"Content-Type": "application/json"})
            assert st == 200
            assert ad.http("GET", "/ping") == (200, "OK")
            assert "Applying firewall mode" not in ad.log()
    assert "BALENA-FIREWALL" not in machine_chains()

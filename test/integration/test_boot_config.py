"""test_boot_config.py - the boot-config backends of every board balena supports
(issue 17, facts §5.2), through a local target on a device of each type, with the
boot partition, configfs, the ODM data's block device and its lock all in a temporary
tree: the files written, the reboot breadcrumb, exactly one reboot, and nothing
written or rebooted again for the same target after the reboot; bad input refused
with a clear line and nothing half-written; the boot config read back in the
initial config report; the connectivity check.

The devices are unmanaged (local mode) and run with the private engine (the apply
loop, which applies the boot config, runs with one); reboot and shutdown run
harmless commands that write a file in the temporary tree.
"""
import base64
import json
import os
import socket
import stat
import zlib
import struct

import lib
from engine import engine
from fake_cloud import FakeCloud
from test_api_routes import call_json, read_file, wait_file_lines
from test_cloud import db_config, managed_config, read_config

EXTLINUX = ("DEFAULT primary\n"
            "TIMEOUT 30\n"
            "MENU TITLE Boot Options\n"
            "LABEL primary\n"
            "      MENU LABEL primary Image\n"
            "      LINUX /Image\n"
            "      APPEND ${cbootargs} ${resin_kernel_root} ro rootwait\n")
UENV = "extra_os_firmware_class_path=/var/lib/docker/volumes/extra-firmware/_data\n"
ODM_OFFSETS = (1659, 5243, 18043)
ODM_BYTES = {1: 0x0, 2: 0x1, 3: 0x6, 4: 0x7, 5: 0x2, 6: 0x3}


def png(w, h, rgb):
    """A small real PNG."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class Tree:
    """The device's files in a temporary directory."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.boot = os.path.join(tmp, "boot")
        self.dev = os.path.join(tmp, "dev", "mmcblk0boot0")
        self.lock = os.path.join(tmp, "sys", "force_ro")
        self.configfs = os.path.join(tmp, "configfs")
        self.acpi = os.path.join(tmp, "acpi-tables")
        self.os_release = os.path.join(tmp, "os-release")
        for d in (self.boot, os.path.dirname(self.dev), os.path.dirname(self.lock),
                  self.acpi):
            os.makedirs(d, exist_ok=True)

    def path(self, rel):
        return os.path.join(self.boot, rel)

    def write(self, rel, data):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)

    def read(self, rel):
        return read_file(self.path(rel))

    def read_bytes(self, rel):
        with open(self.path(rel), "rb") as f:
            return f.read()

    def mtime(self, rel):
        return os.stat(self.path(rel)).st_mtime_ns

    def mode(self, rel):
        return stat.S_IMODE(os.stat(self.path(rel)).st_mode)

    def os_version(self, meta):
        with open(self.os_release, "w") as f:
            f.write('ID="balena-os"\nPRETTY_NAME="balenaOS %s"\nMETA_BALENA_VERSION="%s"\n'
                    % (meta, meta))

    def odm_device(self, mode):
        img = bytearray(b"\xee" * 20000)
        for off in ODM_OFFSETS:
            img[off] = ODM_BYTES[mode]
        with open(self.dev, "wb") as f:
            f.write(img)
        with open(self.lock, "w") as f:
            f.write("1\n")

    def odm_bytes(self):
        with open(self.dev, "rb") as f:
            data = f.read()
        return [data[off] for off in ODM_OFFSETS]

    def settings(self, **more):
        s = {"reboot_command": ["sh", "-c", "echo reboot >> %s/reboot.txt" % self.tmp],
             "shutdown_command": ["sh", "-c", "echo shutdown >> %s/shutdown.txt" % self.tmp],
             "led_file": os.path.join(self.tmp, "led"),
             "boot_dir": self.boot,
             "odmdata_device": self.dev, "odmdata_force_ro": self.lock,
             "configfs_dir": self.configfs, "acpi_tables_dir": self.acpi,
             # never the real modprobe: a test's configfs is a plain directory
             "configfs_modprobe": ["false"],
             "vpn_status_dir": os.path.join(self.tmp, "vpn_status")}
        s.update(more)
        return s

    def reboots(self):
        text = read_file(os.path.join(self.tmp, "reboot.txt"))
        return text.split() if text else []


class Board(lib.Agentd):
    """An unmanaged device of `device_type` on the private engine, its files in `tree`."""

    def __init__(self, tree, device_type, settings=None, **kw):
        self.fixed_port = lib.free_port()
        self.tree = tree
        env = {"HOST_OS_VERSION_PATH": tree.os_release}
        super().__init__(config={"listenPort": self.fixed_port, "deviceType": device_type},
                         settings=settings or tree.settings(), args=["-s", engine().sock],
                         env=env, **kw)

    def start(self):
        super().start()
        self.port = self.fixed_port
        return self

    def post(self, config, name="board"):
        t = {"local": {"name": name, "config": dict(config, SUPERVISOR_LOCAL_MODE="true"),
                       "apps": {}}}
        assert call_json(self, "POST", "/v2/local/target-state", t)["status"] == "success"

    def breadcrumb(self):
        return os.path.exists(os.path.join(self.rundir, "reboot-after-apply"))

    def wait_applied(self, since):
        """The apply loop finished a round after `since` (a log mark) with nothing left."""
        self.wait_log(r"apply: target state applied", 20, since=since)


def test_a_jetson_tx2_on_an_old_os_gets_extlinux_uenv_and_odm_data_and_reboots_once():
    with lib.TempDir() as tmp, lib.TempDir() as work:
        tree = Tree(tmp)
        tree.os_version("2.45.1+rev3")
        tree.write("extlinux/extlinux.conf", EXTLINUX)
        tree.write("extra_uEnv.txt", UENV)
        tree.odm_device(1)
        target = {"BALENA_HOST_EXTLINUX_isolcpus": "2", "RESIN_HOST_EXTLINUX_fdt": "/boot/my.dtb",
                  "HOST_ODMDATA_configuration": "4"}
        want_extlinux = EXTLINUX.replace("rootwait\n", "rootwait isolcpus=2\n") + \
            "      FDT /boot/my.dtb\n"
        want_uenv = UENV + "custom_fdt_file=/boot/my.dtb\nextra_os_cmdline=isolcpus=2\n"
        with Board(tree, "jetson-tx2", workdir=work) as a:
            a.post(target)
            # the reboot comes after the round that wrote every backend's files
            lib.wait_until(lambda: tree.reboots(), 25, what="the reboot")
            assert tree.reboots() == ["reboot"]
            assert tree.read("extlinux/extlinux.conf") == want_extlinux
            assert tree.read("extra_uEnv.txt") == want_uenv
            # the bootloader's files stay readable: not the 0600 of agentd's umask
            assert tree.mode("extlinux/extlinux.conf") == 0o644
            assert tree.mode("extra_uEnv.txt") == 0o644
            assert stat.S_IMODE(os.stat(os.path.join(a.rundir, "reboot-after-apply"))
                                .st_mode) == 0o600
            assert tree.odm_bytes() == [0x7] * 3
            with open(tree.lock) as f:
                assert f.read() == "1\n", "mmcblk0boot0 is read-only again"
            assert a.breadcrumb()
            a.wait_log(r"Applying boot config: \{\"configuration\":\"4\"\}", 5)
            a.wait_log(r"Reboot has been scheduled to apply changes: .*isolcpus", 5)
            os.unlink(os.path.join(a.rundir, "reboot-after-apply"))  # the reboot happened
        stamps = [tree.mtime(r) for r in ("extlinux/extlinux.conf", "extra_uEnv.txt")]
        # after the reboot, the same target: nothing is written, nothing reboots
        with Board(tree, "jetson-tx2", workdir=work) as a:
            a.wait_applied(0)
            # another round for the same boot config (a new device name)
            mark = a.mark()
            a.post(target, name="renamed")
            a.wait_applied(mark)
            assert [tree.mtime(r) for r in ("extlinux/extlinux.conf", "extra_uEnv.txt")] == stamps
            assert "Applying boot config" not in a.log()
            assert not a.breadcrumb()
        assert tree.reboots() == ["reboot"]


def test_an_imx8_board_uses_extra_uenv_only_when_the_file_is_there():
    with lib.TempDir() as tmp:
        tree = Tree(tmp)
        with Board(tree, "imx8mm-var-dart") as a:
            # no extra_uEnv.txt: not this device's backend, nothing is made
            mark = a.mark()
            a.post({"HOST_EXTLINUX_fdt": "imx8mm-var-dart-custom.dtb"})
            a.wait_applied(mark)
            assert not os.path.exists(tree.path("extra_uEnv.txt"))
            assert "Boot config not applied" not in a.log()
        tree.write("extra_uEnv.txt", "# U-Boot\nfdt_file=imx8mm-var-dart.dtb\n")
        with Board(tree, "imx8mm-var-dart") as a:
            a.post({"HOST_EXTLINUX_fdt": "imx8mm-var-dart-custom.dtb"})
            lib.wait_until(lambda: tree.read("extra_uEnv.txt") ==
                           "# U-Boot\nfdt_file=imx8mm-var-dart.dtb\n"
                           "custom_fdt_file=imx8mm-var-dart-custom.dtb\n", 15,
                           what="extra_uEnv.txt written")
            assert wait_file_lines(os.path.join(tmp, "reboot.txt"), "the reboot") == ["reboot"]


def test_bad_boot_config_is_refused_with_a_line_and_nothing_is_written():
    with lib.TempDir() as tmp:
        tree = Tree(tmp)
        tree.os_version("2.45.0")
        tree.write("extlinux/extlinux.conf", EXTLINUX)
        tree.odm_device(2)
        with Board(tree, "jetson-tx2") as a:
            for config, line in (
                    ({"HOST_EXTLINUX_rootwait": "1"},
                     r"Boot config not applied: Attempt to change blacklisted config value "
                     r"rootwait"),
                    ({"HOST_EXTLINUX_isolcpus": "1 init=/bin/sh"},
                     r"Boot config not applied: HOST_EXTLINUX_isolcpus: .* is not a CPU list"),
                    ({"HOST_ODMDATA_configuration": "7"},
                     r"Boot config not applied: HOST_ODMDATA_configuration: \"7\" is not a "
                     r"configuration \(1 to 6\)"),
                    ({"HOST_SPLASH_image": "bm90IGEgcG5n"},
                     r"Boot config not applied: Expected splash image to be a base64 encoded "
                     r"PNG image")):
                mark = a.mark()
                a.post(config)
                a.wait_log(line, 10, since=mark)
            assert tree.read("extlinux/extlinux.conf") == EXTLINUX
            assert tree.odm_bytes() == [0x1] * 3
            # an extlinux.conf that cannot be read (a directory in its place) and an
            # ODM device whose lock is gone: refused, nothing written
            os.unlink(tree.path("extlinux/extlinux.conf"))
            os.mkdir(tree.path("extlinux/extlinux.conf"))
            os.unlink(tree.lock)
            mark = a.mark()
            a.post({"HOST_EXTLINUX_isolcpus": "3", "HOST_ODMDATA_configuration": "5"})
            a.wait_log(r"Boot config not applied: cannot read .*extlinux.conf", 10, since=mark)
            a.wait_log(r"Boot config not applied: cannot unlock .*force_ro.*nothing written",
                       10, since=mark)
            assert tree.odm_bytes() == [0x1] * 3
            assert not a.breadcrumb()
            assert tree.reboots() == []


def test_read_only_boot_files_are_refused_whole_and_written_once_they_can_be():
    # agentd runs without CAP_DAC_OVERRIDE: a directory or device of root's
    # that is not writable by its owner is read-only to it too
    with lib.TempDir() as tmp:
        tree = Tree(tmp)
        tree.os_version("2.45.0")
        tree.write("extlinux/extlinux.conf", EXTLINUX)
        tree.odm_device(2)
        extlinux_dir = tree.path("extlinux")
        os.chmod(extlinux_dir, 0o555)
        os.chmod(tree.dev, 0o444)
        target = {"HOST_EXTLINUX_isolcpus": "1", "HOST_ODMDATA_configuration": "3"}
        try:
            with Board(tree, "jetson-tx2") as a:
                mark = a.mark()
                a.post(target)
                a.wait_log(r"Boot config not applied: cannot write .*extlinux\.conf\.tmp: "
                           r"Permission denied", 10, since=mark)
                a.wait_log(r"Boot config not applied: cannot open .*mmcblk0boot0 for writing: "
                           r"Permission denied", 10, since=mark)
                a.wait_applied(mark)
                assert tree.read("extlinux/extlinux.conf") == EXTLINUX
                assert os.listdir(extlinux_dir) == ["extlinux.conf"], "no temporary file left"
                assert tree.odm_bytes() == [0x1] * 3
                with open(tree.lock) as f:
                    assert f.read() == "1\n", "mmcblk0boot0 is read-only again"
                assert not a.breadcrumb() and tree.reboots() == []
                # writable again: the same vars are written at the next round, once
                os.chmod(extlinux_dir, 0o755)
                os.chmod(tree.dev, 0o644)
                a.post(target, name="again")
                lib.wait_until(lambda: tree.reboots(), 25, what="the reboot")
                assert tree.read("extlinux/extlinux.conf") == \
                    EXTLINUX.replace("rootwait\n", "rootwait isolcpus=1\n")
                assert tree.odm_bytes() == [0x6] * 3
                assert tree.reboots() == ["reboot"]
        finally:
            os.chmod(extlinux_dir, 0o755)
            os.chmod(tree.dev, 0o644)


def test_an_orin_gets_power_mode_and_fan_profile_and_only_the_power_mode_reboots():
    with lib.TempDir() as tmp:
        tree = Tree(tmp)
        tree.os_version("6.0.13")
        tree.write("extra_uEnv.txt", UENV)
        with Board(tree, "jetson-agx-orin-devkit") as a:
            mark = a.mark()
            a.post({"HOST_CONFIG_fan_profile": "quiet"})
            a.wait_log(r"Applied boot config: \{\"fan_profile\":\"quiet\"\}", 10, since=mark)
            a.wait_applied(mark)
            with open(a.config_path) as f:
                assert json.load(f)["os"] == {"fan": {"profile": "quiet"}}
            assert not a.breadcrumb() and tree.reboots() == []
            # a power mode and isolcpus (extra_uEnv.txt, which this board has)
            a.post({"HOST_CONFIG_fan_profile": "quiet", "HOST_CONFIG_power_mode": "low",
                    "HOST_EXTLINUX_isolcpus": "3"})
            assert wait_file_lines(os.path.join(tmp, "reboot.txt"), "the reboot") == ["reboot"]
            with open(a.config_path) as f:
                cfg = json.load(f)
            assert cfg["os"] == {"fan": {"profile": "quiet"}, "power": {"mode": "low"}}, cfg
            assert cfg["deviceType"] == "jetson-agx-orin-devkit"
            assert stat.S_IMODE(os.stat(a.config_path).st_mode) == 0o600, "its API keys"
            assert tree.read("extra_uEnv.txt") == UENV + "extra_os_cmdline=isolcpus=3\n"
            a.wait_log(r"Reboot has been scheduled to apply changes: .*power_mode", 5)


def test_an_up_board_loads_its_acpi_tables_at_start_and_writes_configfs_json():
    with lib.TempDir() as tmp:
        tree = Tree(tmp)
        with open(os.path.join(tree.acpi, "spidev1.0.aml"), "wb") as f:
            f.write(b"SSDT\x00\x01table")
        tree.write("configfs.json", '{"ssdt":["spidev1.0"]}')
        loaded = os.path.join(tree.configfs, "acpi", "table", "spidev1.0", "aml")
        # configfs has no acpi/table until "modprobe acpi_configfs" (a stand-in)
        # makes it: it runs at start-up, before agentd takes on its seccomp
        # filter (which forbids what a real modprobe does, and the alarm that
        # bounds it), and the tables load then, not at the first target
        modprobed = os.path.join(tmp, "modprobed")
        probe = ["sh", "-c", "mkdir -p '%s/acpi/table' && echo acpi_configfs >> '%s'"
                 % (tree.configfs, modprobed)]
        settings = tree.settings(configfs_modprobe=probe)
        with Board(tree, "up-board", settings=settings) as a:
            assert read_file(loaded) is not None, "the table loaded before the children ran"
            with open(loaded, "rb") as f:
                assert f.read() == b"SSDT\x00\x01table"
            assert read_file(modprobed) == "acpi_configfs\n"
            log = a.log()
            assert log.index("Loading AML spidev1.0") < log.index("confined:"), log
            assert "Unable to initialise ConfigFS" not in log
            a.post({"HOST_CONFIGFS_ssdt": "spidev1.0"})
            a.post({"HOST_CONFIGFS_ssdt": '"spidev1.0","i2c1"'})
            lib.wait_until(lambda: tree.read("configfs.json") ==
                           '{"ssdt":["spidev1.0","i2c1"]}', 15, what="configfs.json written")
            assert tree.mode("configfs.json") == 0o644
            assert wait_file_lines(os.path.join(tmp, "reboot.txt"), "the reboot") == ["reboot"]
            # the new table loads at the next start, not now
            assert not os.path.exists(os.path.join(tree.configfs, "acpi", "table", "i2c1"))
            assert "Loading AML" not in a.log()[len(log):]
            assert a.running()
        # the next start: acpi/table is there, no modprobe; the table it lacks
        # the AML of is named
        with Board(tree, "up-board", settings=settings) as a:
            a.wait_log(r"Missing AML for 'i2c1'\. Unable to load\.", 5)
            assert read_file(modprobed) == "acpi_configfs\n"


def test_the_splash_image_is_replaced_the_default_kept_and_bad_data_refused():
    original, new = png(1, 1, (0, 0, 255)), png(2, 2, (255, 0, 0))
    with lib.TempDir() as tmp:
        tree = Tree(tmp)
        tree.write("splash/balena-logo.png", original)
        with Board(tree, "raspberrypi4-64") as a:
            a.post({"HOST_SPLASH_image":
                    "data:image/png;base64," + base64.b64encode(new).decode()})
            lib.wait_until(lambda: tree.read_bytes("splash/balena-logo.png") == new, 15,
                           what="the new splash image")
            assert tree.read_bytes("splash/balena-logo-default.png") == original
            assert tree.mode("splash/balena-logo.png") == 0o644
            assert tree.mode("splash/balena-logo-default.png") == 0o644
            assert wait_file_lines(os.path.join(tmp, "reboot.txt"), "the reboot") == ["reboot"]
            assert not os.path.exists(tree.path("config.txt")), "no HOST_CONFIG_: no config.txt"
            mark = a.mark()
            a.post({"HOST_SPLASH_image": base64.b64encode(b"GIF89a not a png").decode()})
            a.wait_log(r"Boot config not applied: Expected splash image to be a base64 "
                       r"encoded PNG image: it is not a PNG", 10, since=mark)
            assert tree.read_bytes("splash/balena-logo.png") == new
            # empty: the default image again
            a.post({"HOST_SPLASH_image": ""})
            lib.wait_until(lambda: tree.read_bytes("splash/balena-logo.png") == original, 15,
                           what="the default splash image back")


def test_the_boot_config_on_the_device_is_in_the_initial_config_report():
    logo, default = png(2, 2, (0, 255, 0)), png(1, 1, (1, 2, 3))
    with FakeCloud() as cloud, lib.TempDir() as tmp:
        tree = Tree(tmp)
        tree.write("config.txt", "# image\ngpu_mem=16\ndtparam=spi=on\n")
        tree.write("splash/balena-logo.png", logo)
        tree.write("splash/balena-logo-default.png", default)
        port = lib.free_port()
        config = dict(managed_config(cloud), listenPort=port, deviceType="raspberrypi3")
        with lib.Agentd(config=config, settings=tree.settings()) as a:
            lib.wait_until(lambda: db_config(a, "initialConfigReported") == cloud.url, 30,
                           what="the initial config reported")
            want = {"RESIN_SUPERVISOR_POLL_INTERVAL": "500",
                    "RESIN_HOST_CONFIG_gpu_mem": "16",
                    "RESIN_HOST_CONFIG_dtparam": '"spi=on"',
                    "RESIN_HOST_SPLASH_image":
                        "data:image/png;base64," + base64.b64encode(logo).decode()}
            assert cloud.config_vars == want, cloud.config_vars
        # reading them wrote nothing
        assert tree.read("config.txt") == "# image\ngpu_mem=16\ndtparam=spi=on\n"
        assert cloud.errors == [], cloud.errors


def test_the_connectivity_check_logs_blinks_pauses_for_the_vpn_and_never_fails_health():
    with FakeCloud() as cloud, lib.TempDir() as tmp:
        tree = Tree(tmp)
        led = os.path.join(tmp, "led")
        port = lib.free_port()
        config = dict(managed_config(cloud), listenPort=port)
        settings = tree.settings(ping_interval_ms=500)
        with lib.Agentd(config=config, settings=settings) as a:
            a.port = port
            a.wait_log(r"Internet Connectivity: OK", 20)
            # the cloud goes away: said, and the LED blinks; agentd stays healthy
            cloud.server.shutdown()
            cloud.server.server_close()
            mark = a.mark()
            a.wait_log(r"Waiting for connectivity\.\.\.", 30, since=mark)
            lib.wait_until(lambda: read_file(led) == "1", 5, what="the LED on")
            lib.wait_until(lambda: read_file(led) == "0", 5, what="the LED off")
            assert a.http("GET", "/v1/healthy") == (200, "OK")
            # something answers on the API's port again
            back = socket.socket()
            back.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            back.bind(("127.0.0.1", cloud.port))
            back.listen(16)
            try:
                a.wait_log(r"Internet Connectivity: OK", 30, since=mark)
                lib.wait_until(lambda: read_file(led) == "0", 5, what="the LED left off")
                # gone again, but the VPN is up: the check pauses, the cloud counts
                # as reachable
                back.close()
                mark = a.mark()
                a.wait_log(r"Waiting for connectivity\.\.\.", 30, since=mark)
                os.makedirs(os.path.join(tmp, "vpn_status"))
                open(os.path.join(tmp, "vpn_status", "active"), "w").close()
                a.wait_log(r"connectivity check paused while the VPN is up", 10, since=mark)
                a.wait_log(r"Internet Connectivity: OK", 10, since=mark)
                assert a.http("GET", "/v1/healthy") == (200, "OK")
            finally:
                back.close()


test_the_connectivity_check_logs_blinks_pauses_for_the_vpn_and_never_fails_health.timeout_s = 150


def test_the_connectivity_check_turned_off_counts_the_cloud_as_reachable():
    with FakeCloud() as cloud, lib.TempDir() as tmp, lib.TempDir() as work:
        tree = Tree(tmp)
        led = os.path.join(tmp, "led")
        config = dict(managed_config(cloud), listenPort=lib.free_port())
        settings = tree.settings()
        with lib.Agentd(config=config, settings=settings, workdir=work) as a:
            lib.wait_until(lambda: "registered_at" in read_config(a), 20, what="provisioning")
            uuid = read_config(a)["uuid"]
            mark = a.mark()
            cloud.target = {uuid: {"name": "quiet", "apps": {}, "config": {
                "RESIN_SUPERVISOR_POLL_INTERVAL": "500",
                "RESIN_SUPERVISOR_CONNECTIVITY_CHECK": "false"}}}
            a.wait_log(r"connectivity check off \(SUPERVISOR_CONNECTIVITY_CHECK is false\)", 20,
                       since=mark)
        # the cloud gone, the stored target says off: the first check, made as
        # cloudsyncd starts, counts the cloud as reachable; nothing blinks
        cloud.server.shutdown()
        cloud.server.server_close()
        with lib.Agentd(config=config, settings=settings, workdir=work) as a:
            a.wait_log(r"connectivity check off \(SUPERVISOR_CONNECTIVITY_CHECK is false\)", 10)
            a.wait_log(r"Internet Connectivity: OK", 20)
            assert "Waiting for connectivity" not in a.log()
            assert not os.path.exists(led), "the LED was never touched"
            a.port = config["listenPort"]
            assert a.http("GET", "/v1/healthy") == (200, "OK")

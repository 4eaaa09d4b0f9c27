"""systemd integration: sd_notify messages on NOTIFY_SOCKET and the watchdog,
and that the children never see systemd's variables."""
import os
import socket

from lib import Agentd, TempDir, proc_environ, wait_until

# Test 12 of the plan (a child sending a malformed message is killed) needs a
# child that misbehaves on purpose, which only a code change could provide:
# it is deliberately not written here.


class Collector:
    """Datagrams received on an AF_UNIX SOCK_DGRAM socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setblocking(False)
        self.messages = []

    def poll(self):
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode("utf-8", "replace"))
            except BlockingIOError:
                return self.messages

    def count(self, msg):
        return sum(1 for m in self.poll() if m == msg)

    def close(self):
        self.sock.close()


def test_systemd_notify_ready_status_watchdog_stopping():
    with TempDir() as d:
        path = os.path.join(d, "notify.sock")
        col = Collector(path)
        try:
            env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000",
                   "AGENTD_TEST_MARKER": "visible"}
            with Agentd(workdir=d, env=env) as a:
                wait_until(lambda: col.count("READY=1") >= 1, what="READY=1")
                wait_until(lambda: any(m.startswith("STATUS=") for m in col.poll()),
                           what="a STATUS= message")
                wait_until(lambda: col.count("WATCHDOG=1") >= 2,
                           what="two WATCHDOG=1 (got %r)" % col.poll())
                assert not any(m == "STOPPING=1" for m in col.poll())

                # The children must not inherit systemd's variables.
                for name, pid in a.children().items():
                    env_c = proc_environ(pid)
                    assert env_c.get("AGENTD_TEST_MARKER") == "visible", \
                        "%s environ unreadable or scrubbed: %r" % (name, env_c)
                    for var in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
                        assert var not in env_c, "%s sees %s" % (name, var)

                assert a.stop() == 0
                msgs = col.poll()
                assert "STOPPING=1" in msgs, msgs
                assert col.count("READY=1") == 1, msgs
                # READY=1 comes once all children are ready; STOPPING=1 after it.
                assert msgs.index("READY=1") < msgs.index("STOPPING=1"), msgs
                assert any(m.startswith("STATUS=") and "3/3" in m for m in msgs), msgs
        finally:
            col.close()


def test_no_notify_socket_no_messages_and_still_works():
    # WATCHDOG_USEC without NOTIFY_SOCKET must not break anything.
    with Agentd(env={"WATCHDOG_USEC": "400000"}) as a:
        assert a.http("GET", "/ping") == (200, "OK")
        assert "notify" not in a.log()

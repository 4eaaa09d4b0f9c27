#!/usr/bin/env python3
"""bench/run.py - agentd benchmarks (`make bench`). Prints figures; asserts nothing.

startup: time from exec of agentd to the first 200 from GET /ping, over several runs.
memory:  summed VmRSS (and PSS) of agentd and its three children once idle.
"""
import http.client
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("AGENTD_BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
import lib  # noqa: E402  (after the path; shares /proc helpers)


def ping(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request("GET", "/ping")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit() and lib.status_kb(int(p), "PPid") == pid:
            out.append(int(p))
    return out


def start(tmp, port):
    with open(os.path.join(tmp, "config.json"), "w") as f:
        f.write('{"listenPort": %d}' % port)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [os.path.join(BUILD, "agentd"), "-f", "-c", os.path.join(tmp, "config.json"),
         "-d", os.path.join(tmp, "data"), "-r", os.path.join(tmp, "run"),
         "-a", "127.0.0.1", "-s", os.path.join(tmp, "engine.sock")],
        stderr=subprocess.DEVNULL)
    deadline = t0 + 10
    while not ping(port):
        if time.perf_counter() > deadline or proc.poll() is not None:
            raise RuntimeError("agentd did not answer /ping")
    return proc, (time.perf_counter() - t0) * 1000


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)


def main():
    runs = int(os.environ.get("BENCH_RUNS", "20"))
    times = []
    for i in range(runs):
        tmp = tempfile.mkdtemp(prefix="agentd-bench.")
        try:
            # Half the runs on a fresh data dir (migrations applied), half on an existing one.
            proc, ms = start(tmp, lib.free_port())
            stop(proc)
            proc, ms2 = start(tmp, lib.free_port())
            times.extend([ms, ms2])
            stop(proc)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    times.sort()
    print(f"startup: exec -> first 200 from /ping over {len(times)} runs: "
          f"median {statistics.median(times):.1f} ms, p90 {times[int(len(times) * 0.9) - 1]:.1f} ms, "
          f"min {times[0]:.1f} ms, max {times[-1]:.1f} ms   (goal < 20 ms; Node supervisor 540-690 ms)")

    tmp = tempfile.mkdtemp(prefix="agentd-bench.")
    try:
        proc, _ = start(tmp, lib.free_port())
        time.sleep(1.0)  # let it idle
        pids = [proc.pid] + children(proc.pid)
        rss = {p: lib.status_kb(p, "VmRSS") for p in pids}
        pss = {p: pss_kb(p) for p in pids}
        names = {}
        for p in pids:
            with open(f"/proc/{p}/comm") as f:
                names[p] = f.read().strip()
        for p in pids:
            print(f"memory: {names[p]:<11} VmRSS {rss[p]:6d} kB   Pss {pss[p]:6d} kB")
        print(f"memory: {len(pids)} processes idle: VmRSS sum {sum(rss.values()) / 1024:.2f} MB, "
              f"Pss sum {sum(pss.values()) / 1024:.2f} MB   (goal < 6 MB; Node supervisor ~100 MB)")
        stop(proc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

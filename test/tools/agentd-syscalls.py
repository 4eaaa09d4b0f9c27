#!/usr/bin/env python3
"""agentd-syscalls.py - what agentd's own allow-list lacks, from strace logs.

Usage: agentd-syscalls.py TRACE_DIR...

agentd's seccomp filter (agentd/sandbox.c) is inherited by every process it
starts, so its allow-list must cover agentd, its children, and the programs it
runs. To see what they call, run the integration tests with the test build
under strace (AGENTD_STRACE_DIR, a test-build hook of agentd/sandbox.c: agentd
has strace attach to it just before it loads its filter, which it then loads
in log mode so nothing is killed, and strace follows every process it starts):

    AGENTD_BUILD=build/test AGENTD_STRACE_DIR=/tmp/tr AGENTD_TIMEOUT_SCALE=3 \\
        python3 test/integration/run.py
    python3 test/tools/agentd-syscalls.py /tmp/tr/*

Each TRACE_DIR holds one agentd's strace -ff files (t.<pid>). This prints, per
program (agentd, its children, what it ran), the calls it made; then the calls
the allow-list (common/sandbox.c's sandbox_base[] and agentd/sandbox.c's tables,
this machine's architecture) lacks, with who made them (exit status 1 if any),
and the entries no traced run made (to question, not to remove blindly: an
error path, another libc or another kernel may need them).
"""
import collections
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CALL = re.compile(r"^(?:\d+ +)?([a-z_][a-z0-9_]*)\(")
EXECVE = re.compile(r'^(?:\d+ +)?execve\("([^"]*)".* = 0$')
ENTRY = re.compile(r"\bSB_(?:ALLOW|ALLOW_ARG|ALLOW_MASKED|DENY)\(\s*([a-z0-9_]+)")


def allow_list():
    """Every syscall name in sandbox_base[] and agentd's tables (all sections:
    only the build machine's architecture has one so far)."""
    names = set()
    for rel, table in (("common/sandbox.c", "sandbox_base"), ("agentd/sandbox.c", None)):
        with open(os.path.join(ROOT, rel)) as f:
            text = f.read()
        if table is not None:
            text = text[text.index(table + "[]"):]
            text = text[:text.index("};")]
        names.update(ENTRY.findall(text))
    return names


def trace(dirname):
    """{program: set of calls} of one agentd's trace directory."""
    files = [f for f in os.listdir(dirname) if f.startswith("t.")]
    if not files:
        return {}
    root = min(files, key=lambda f: int(f.split(".")[1]))  # agentd started first
    out = collections.defaultdict(set)
    for f in files:
        prog = "agentd" if f == root else "agentd (forked)"
        calls = []
        with open(os.path.join(dirname, f), errors="replace") as fh:
            for line in fh:
                m = EXECVE.match(line)
                if m:
                    prog = os.path.basename(m.group(1))
                m = CALL.match(line)
                if m:
                    calls.append(m.group(1))
        out[prog].update(calls)
    return out


def main(argv):
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    by_prog = collections.defaultdict(set)
    for d in argv:
        for prog, calls in trace(d).items():
            by_prog[prog] |= calls
    allowed = allow_list()
    made = set().union(*by_prog.values()) if by_prog else set()
    for prog in sorted(by_prog):
        print("%s: %s" % (prog, " ".join(sorted(by_prog[prog]))))
    missing = sorted(made - allowed)
    print()
    for name in missing:
        who = sorted(p for p, calls in by_prog.items() if name in calls)
        print("MISSING %s (%s)" % (name, ", ".join(who)))
    unused = sorted(allowed - made)
    print("never made: %s" % " ".join(unused))
    print("%d calls made, %d allowed, %d missing" % (len(made), len(allowed), len(missing)))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

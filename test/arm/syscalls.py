#!/usr/bin/env python3
"""syscalls.py - the allow-lists per architecture, and what traces say of them.

  syscalls.py lists ARCH            print each child's effective allow-list on ARCH
                                    (common/sandbox.c's base + the child's own table),
                                    and agentd's (base + agentd/sandbox.c's tables)
  syscalls.py trace ARCH RUNDIR...  qemu-user -strace logs (trace.sh): per child, the
                                    union of the calls made after the sandbox marker
  syscalls.py strace ARCH FILE...   strace -f -o logs from a real kernel (vm-tests.sh):
                                    the same, after each child's seccomp() call; and
                                    agentd's own list: every call of agentd and of every
                                    process it started, after agentd confined itself
                                    (its prctl(PR_SET_NO_NEW_PRIVS): its filter is loaded
                                    right after, or none where its list is not written)
For trace/strace it prints, per child (and for agentd), the calls its list lacks on ARCH
(exit 1 if any) and the entries no run made (to question, not to remove blindly: an
error path or another kernel may need them). Names are resolved with the build
machine's libseccomp. ARCH: amd64, arm64, armhf, i386, rpi.
"""
import ctypes
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TABLES = {"base": "common/sandbox.c", "enginectl": "enginectl/sandbox.c",
          "apid": "apid/sandbox.c", "cloudsyncd": "cloudsyncd/sandbox.c",
          "agentd": "agentd/sandbox.c"}
CHILDREN = ("enginectl", "apid", "cloudsyncd")
# architecture -> (libseccomp's token, the SB_* tags of common/sandbox.h that include it)
ARCHES = {"amd64": (0xC000003E, ("SB_X86_64", "SB_ALL")),
          "arm64": (0xC00000B7, ("SB_ARM64", "SB_ALL")),
          "armhf": (0x40000028, ("SB_ARMHF", "SB_ARM32", "SB_ILP32", "SB_ALL")),
          "i386": (0x40000003, ("SB_I386", "SB_ILP32", "SB_ALL")),
          "rpi": (0x40000028, ("SB_ARMEL", "SB_ARM32", "SB_ILP32", "SB_ALL"))}
ENTRY = re.compile(
    r"\bSB_(ALLOW|ALLOW_ARG|ALLOW_MASKED|DENY)(_ON)?\(\s*([^,()]+?)\s*(?:,\s*(\w+))?\s*[,)]")

_lib = ctypes.CDLL("libseccomp.so.2")
_lib.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
_lib.seccomp_syscall_resolve_num_arch.argtypes = [ctypes.c_uint32, ctypes.c_int]
_lib.seccomp_syscall_resolve_num_arch.restype = ctypes.c_void_p


def number(arch, name):
    """The syscall's number on arch, or None if arch has no such call (on i386 the
    socket calls, made through socketcall(2), have libseccomp's pseudo numbers)."""
    nr = _lib.seccomp_syscall_resolve_name_arch(ARCHES[arch][0], name.encode())
    if arch == "i386" and -120 <= nr <= -101:
        return nr
    return nr if nr >= 0 else None


def name_of(arch, nr):
    p = _lib.seccomp_syscall_resolve_num_arch(ARCHES[arch][0], nr)
    return ctypes.string_at(p).decode() if p else "syscall_%d" % nr


def table(path):
    """[(name, tags or None, kind)] of the SB_* entries of one sandbox.c."""
    with open(os.path.join(ROOT, path)) as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    out = []
    for m in ENTRY.finditer(text):
        if m.group(2):  # SB_ALLOW_ON(tags, name)
            out.append((m.group(4).strip(), m.group(3).strip(), m.group(1)))
        else:
            out.append((m.group(3).strip(), None, m.group(1)))
    return out


def effective(arch):
    """{child: set of names its filter allows (or denies softly) on arch}."""
    mine = ARCHES[arch][1]

    def keep(entries):
        return {n for n, tags, _ in entries if number(arch, n) is not None and
                (tags is None or set(mine) & {t.strip() for t in tags.split("|")})}
    base = keep(table(TABLES["base"]))
    return {c: base | keep(table(TABLES[c])) for c in CHILDREN + ("agentd",)}


def qemu_calls(arch, rundir):
    """{child: names} from one trace.sh run: the children's qemu -strace lines, which
    agentd logged under their names (a blocked call's line may be cut by another's)."""
    out = {c: set() for c in CHILDREN}
    with open(os.path.join(rundir, "agentd.log"), errors="replace") as f:
        log = f.read()
    pids = {int(p): c for c, p in re.findall(r"^agentd: debug: (\w+): started, pid (\d+)$",
                                             log, re.M)}
    marked = set()
    for line in log.splitlines():
        m = re.match(r"^(\w+): (?:\w+: )?(.*)$", line)
        if not m or m.group(1) not in CHILDREN:
            continue
        for pid, unknown, name in re.findall(
                r"(?<![\w.])(\d+) (?:Unknown syscall (\d+)|([a-z_][a-z0-9_]*)\()", m.group(2)):
            child = pids.get(int(pid))
            if child is None:
                continue
            if "/agentd-trace: sandbox loaded" in m.group(2):
                marked.add(int(pid))
                continue
            if int(pid) in marked:
                out[child].add(name_of(arch, int(unknown)) if unknown else name)
    return out


def strace_lines(path):
    """(pid, name, text after the name's parenthesis) of each call in an strace -f log,
    with <unfinished ...> and <... resumed> halves joined."""
    pending = {}
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"^(\d+) +<\.\.\. ([a-z_][a-z0-9_]*) resumed>(.*)$", line)
            if m:
                pid = int(m.group(1))
                head = pending.pop(pid, (m.group(2), ""))
                yield pid, head[0], head[1] + m.group(3)
                continue
            m = re.match(r"^(\d+) +([a-z_][a-z0-9_]*)\((.*)$", line)
            if not m:
                continue
            pid, name, rest = int(m.group(1)), m.group(2), m.group(3)
            if rest.endswith("<unfinished ...>"):
                pending[pid] = (name, rest[:-len("<unfinished ...>")])
            else:
                yield pid, name, rest


def strace_calls(path):
    """{child: names} from strace -f -o FILE of agentd (children named by their execve;
    a thread is traced under its own id, which is clone's result)."""
    out = {c: set() for c in CHILDREN}
    who, loaded = {}, set()
    for pid, name, rest in strace_lines(path):
        if name == "execve":
            c = re.match(r'"[^"]*/(\w+)"', rest)
            if c and c.group(1) in CHILDREN:
                who[pid] = c.group(1)
            continue
        if pid not in who:
            continue
        result = re.search(r"\) += (-?\d+)", rest)
        if name in ("clone", "clone3") and result and int(result.group(1)) > 0:
            tid = int(result.group(1))  # a thread (or a process) under the same filter
            who[tid] = who[pid]
            if pid in loaded:
                loaded.add(tid)
        # libseccomp probes the kernel first; the filter is the call that succeeds
        if name == "seccomp" and "SECCOMP_SET_MODE_FILTER" in rest and result and \
                result.group(1) == "0":
            loaded.add(pid)
            continue
        if pid in loaded:
            out[who[pid]].add(name)
    return out


def agentd_calls(path):
    """{"agentd": names} from strace -f -o FILE of agentd: every call of every process
    after agentd's own prctl(PR_SET_NO_NEW_PRIVS) (its filter follows, and everything it
    starts after inherits it). The first pid of the file is agentd."""
    names, confined, first = set(), False, None
    for pid, name, rest in strace_lines(path):
        if first is None:
            first = pid
        if not confined:
            confined = pid == first and name == "prctl" and rest.startswith("PR_SET_NO_NEW_PRIVS")
            continue
        names.add(name)
    return {"agentd": names}


def report(arch, seen, who=CHILDREN):
    allowed = effective(arch)
    bad = 0
    for c in who:
        missing = sorted(seen[c] - allowed[c])
        unused = sorted(allowed[c] - seen[c])
        print("%s %s: %d calls seen, %d allowed" % (arch, c, len(seen[c]), len(allowed[c])))
        print("  seen:    %s" % " ".join(sorted(seen[c])))
        print("  MISSING: %s" % (" ".join(missing) or "-"))
        print("  unused:  %s" % (" ".join(unused) or "-"))
        bad += len(missing)
    return 1 if bad else 0


def main(argv):
    if len(argv) < 3 or argv[1] not in ("lists", "trace", "strace") or argv[2] not in ARCHES:
        print(__doc__, file=sys.stderr)
        return 2
    arch = argv[2]
    if argv[1] == "lists":
        for c, names in effective(arch).items():
            print("%s %s (%d): %s" % (arch, c, len(names), " ".join(sorted(names))))
        return 0
    who = CHILDREN + (("agentd",) if argv[1] == "strace" else ())
    seen = {c: set() for c in who}
    for src in argv[3:]:
        got = qemu_calls(arch, src) if argv[1] == "trace" else dict(strace_calls(src),
                                                                    **agentd_calls(src))
        for c in who:
            seen[c] |= got[c]
    return report(arch, seen, who)


if __name__ == "__main__":
    sys.exit(main(sys.argv))

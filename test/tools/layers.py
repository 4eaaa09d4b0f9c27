#!/usr/bin/env python3
"""layers.py - hold agentd's source tree to its layers, read from the built objects.

Usage: layers.py BUILD_OBJ_DIR      (e.g. build/obj; run from the top of the tree)

For every object file, `nm` tells which functions and variables it defines and which
it uses; a use of something another file defines is an arrow between the two source
files. Static functions do not show, so only the interface between files counts.
Two rules are checked:

  1. no circle: no two files reach each other through arrows;
  2. rooms call only downwards: a file may call files of its own folder and of the
     folders ROOMS below lets its folder call, never above; a child daemon's folder
     may call only itself and common/.

It prints the layers (layer 0 calls no other file; layer N only lower layers) and
every broken rule, and ends with "layers: N passed, N failed" (one check per rule).
Exit status 1 when a rule is broken.
"""
import os
import subprocess
import sys

# The rooms of agentd (docs/architecture.md) and which rooms each may call besides
# itself; the child daemons may call only themselves and common/.
ROOMS = {
    "common": (),
    "agentd/supervisor": ("common",),
    "agentd/device": ("agentd/supervisor", "common"),  # agentd.json's restart policies
    "agentd/state": ("agentd/device", "common"),
    "agentd": ("agentd/state", "agentd/device", "agentd/supervisor", "common"),
}
CHILDREN = ("apid", "enginectl", "cloudsyncd")


def room_of(src):
    d = os.path.dirname(src)
    return d


def nm(obj, flag):
    out = subprocess.run(["nm", flag, obj], capture_output=True, text=True, check=True).stdout
    return [line.split() for line in out.splitlines() if line.strip()]


def read(objdir):
    defs, uses = {}, {}
    for root, _, files in os.walk(objdir):
        for f in sorted(files):
            if not f.endswith(".o"):
                continue
            path = os.path.join(root, f)
            src = os.path.relpath(path, objdir)[:-2] + ".c"
            if src.startswith("gen/") or src.startswith("test/") or not os.path.exists(src):
                continue  # generated, a test, or left over from a file since moved
            for parts in nm(path, "--defined-only"):
                if len(parts) == 3 and parts[1] in "TDBRGS":
                    defs[parts[2]] = src
            uses[src] = {p[-1] for p in nm(path, "--undefined-only")}
    arrows = {}
    for src, used in uses.items():
        arrows[src] = {}
        for sym in used:
            dst = defs.get(sym)
            if dst is not None and dst != src:
                arrows[src].setdefault(dst, set()).add(sym)
    return arrows


def circles(arrows):
    """Strongly connected components of more than one file (iterative Tarjan)."""
    index, low, onstack, stack, found, counter = {}, {}, set(), [], [], [0]
    for start in sorted(arrows):
        if start in index:
            continue
        work = [(start, iter(sorted(arrows[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        onstack.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    onstack.add(nxt)
                    work.append((nxt, iter(sorted(arrows.get(nxt, {})))))
                elif nxt in onstack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    onstack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def upward_calls(arrows):
    bad = []
    for src, dsts in sorted(arrows.items()):
        rs = room_of(src)
        for dst, syms in sorted(dsts.items()):
            rd = room_of(dst)
            if rs == rd:
                continue
            if rs in CHILDREN:
                ok = rd == "common"
            elif rd in CHILDREN:
                ok = False
            elif rs in ROOMS:
                ok = rd in ROOMS[rs]
            else:
                ok = False  # a folder nobody placed
            if not ok:
                bad.append((src, dst, sorted(syms)))
    return bad


def layers(arrows):
    level, todo = {}, set(arrows)
    while todo:
        ready = {f for f in todo if all(d in level for d in arrows[f])}
        if not ready:
            break  # a circle: reported separately
        for f in ready:
            level[f] = 1 + max((level[d] for d in arrows[f]), default=-1)
        todo -= ready
    return level


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    arrows = read(sys.argv[1])
    if not arrows:
        print("layers: no object files under %s (build first)" % sys.argv[1])
        print("layers: 0 passed, 1 failed")
        return 1
    level = layers(arrows)
    for n in range(max(level.values(), default=-1) + 1):
        print("  %d: %s" % (n, "  ".join(sorted(f for f, l in level.items() if l == n))))
    failed = 0
    circ = circles(arrows)
    for i, comp in enumerate(circ, 1):
        print("circle %d: %s" % (i, ", ".join(comp)))
        for f in comp:
            for d, syms in sorted(arrows[f].items()):
                if d in comp:
                    print("  %s -> %s: %s" % (f, d, ", ".join(sorted(syms))))
    failed += 1 if circ else 0
    up = upward_calls(arrows)
    for src, dst, syms in up:
        print("upward call: %s -> %s: %s" % (src, dst, ", ".join(syms)))
    failed += 1 if up else 0
    print("layers: %d passed, %d failed" % (2 - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

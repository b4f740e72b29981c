#!/usr/bin/env python3
"""Fails when files of groupsync call each other, directly or round a loop.

The house rule (README, Layout): a file that calls another is a layer
above it; two files that call each other are one concept or a seam in the
wrong place. Reads the symbols of a build's object files with nm: what
each file defines (functions and data, since an ops table refers to its
functions) and what it uses from the others.

usage: scripts/check_calls.py BUILD_DIR
"""
import collections
import os
import subprocess
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def objects(build):
    for root, _, files in os.walk(build):
        if "groupsync_core.dir" not in root and "groupsync.dir" not in root:
            continue
        for f in files:
            if f.endswith(".c.o"):
                path = os.path.join(root, f)
                rel = path.split("/src/", 1)[-1][: -len(".c.o")]
                # a build tree keeps the objects of files since moved
                if os.path.exists(os.path.join(SRC, rel + ".c")):
                    yield rel, path


def symbols(build):
    defined, used = {}, collections.defaultdict(set)
    for name, path in objects(build):
        out = subprocess.run(["nm", path], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TDRB":
                defined[parts[2]] = name
            elif len(parts) == 2 and parts[0] == "U":
                used[name].add(parts[1])
    return defined, used


def loops(graph):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    defined, used = symbols(sys.argv[1])
    if not defined:
        sys.exit("check_calls: no object files under %s" % sys.argv[1])
    graph = collections.defaultdict(set)
    for f, syms in used.items():
        graph[f]
        for s in syms:
            if s in defined and defined[s] != f:
                graph[f].add(defined[s])
    found = loops(graph)
    for comp in found:
        print("check_calls: these files call each other: " + ", ".join(comp))
    if found:
        sys.exit(1)
    print("check_calls: %d files, no two call each other" % len(graph))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Splices generated tables into a Markdown document: the lines between

    <!-- generated: NAME -->
    <!-- end: NAME -->

are replaced with the file DIR/NAME. Every marker must name a file that exists, so a
document never keeps figures the last run did not produce.

Usage: bench/splice.py DOC DIR
"""
import os
import re
import sys

MARK = re.compile(r"^<!-- generated: (\S+) -->$")


def splice(lines, src):
    out, i = [], 0
    while i < len(lines):
        out.append(lines[i])
        m = MARK.match(lines[i].rstrip("\n"))
        i += 1
        if not m:
            continue
        name = m.group(1)
        end = "<!-- end: %s -->" % name
        j = i
        while j < len(lines) and lines[j].rstrip("\n") != end:
            j += 1
        if j == len(lines):
            raise SystemExit("splice: '%s' has no line '%s'" % (name, end))
        path = os.path.join(src, name)
        if not os.path.exists(path):
            raise SystemExit("splice: %s: no such file for the marker '%s'" % (path, name))
        with open(path) as fh:
            body = fh.read()
        out.append(body if body.endswith("\n") else body + "\n")
        out.append(lines[j])
        i = j + 1
    return out


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.strip().split("\n")[-1])
    with open(sys.argv[1]) as fh:
        lines = fh.readlines()
    out = splice(lines, sys.argv[2])
    with open(sys.argv[1], "w") as fh:
        fh.writelines(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

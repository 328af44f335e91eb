#!/usr/bin/env python3
"""Lists Rust functions longer than a bound, from `fn` to its closing brace.

    python3 scripts/long-functions.py [MAX_LINES] [PATH...]     (defaults: 100, src)

A function is a line whose code starts with `fn`, `pub fn`, `async fn`, ... and ends at the first
later line that closes a brace at the same indentation; one-line and bodiless functions are skipped.
Exits 1 if any function is longer than MAX_LINES.
"""

import os
import re
import sys

FN = re.compile(r"^(\s*)(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+\"[^\"]*\"\s+)?fn\s+(\w+)")


def functions(path):
    with open(path, encoding="utf-8") as source:
        lines = source.read().split("\n")
    for start, line in enumerate(lines):
        match = FN.match(line)
        if not match:
            continue
        indent = match.group(1)
        for end in range(start, len(lines)):
            if lines[end].rstrip().endswith(";") and end == start:
                break
            if lines[end] == indent + "}":
                yield match.group(8), start + 1, end - start + 1
                break
            if end > start and re.match(r"^\s*(pub\s+)?(async\s+)?fn\s", lines[end]) and len(lines[end]) - len(lines[end].lstrip()) <= len(indent):
                break


def main():
    bound = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    roots = sys.argv[2:] or ["src"]
    found = []
    for root in roots:
        paths = [root] if root.endswith(".rs") else [
            os.path.join(folder, name)
            for folder, _, names in os.walk(root)
            for name in names
            if name.endswith(".rs")
        ]
        for path in sorted(paths):
            for name, line, length in functions(path):
                if length > bound:
                    found.append((length, f"{path}:{line}", name))
    for length, place, name in sorted(found, reverse=True):
        print(f"{length:5} lines  {place}  {name}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

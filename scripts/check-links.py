#!/usr/bin/env python3
"""Every relative link of the repository's Markdown files leads somewhere (issue 25).

    scripts/check-links.py            # exit 1 and one line per broken link

A link `[text](target)` whose target is not a URL must name a file or folder that exists (relative to the file
holding the link); a `#fragment` must be a heading of the target file (GitHub's anchors: lower case, punctuation
other than `-` and `_` dropped, spaces as `-`, `-1`, `-2` for repeats). URLs (`http:`, `https:`, `mailto:`) are
not fetched: the check runs offline. Code blocks and inline code are skipped.
"""
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = {".git", "target", "node_modules", "vendor"}
LINK = re.compile(r"\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_files():
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for f in files:
            if f.endswith(".md"):
                yield os.path.join(root, f)


def prose_lines(path):
    """(line number, text) outside fenced code, with inline code removed."""
    fenced = False
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if FENCE.match(line):
                fenced = not fenced
                continue
            if not fenced:
                yield n, re.sub(r"`[^`]*`", "``", line)


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"`", "", s)
    s = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", s)
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


_anchors = {}


def anchors(path):
    if path not in _anchors:
        seen = {}
        out = set()
        fenced = False
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if FENCE.match(line):
                    fenced = not fenced
                    continue
                m = None if fenced else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
                if m:
                    base = slug(m.group(1))
                    k = seen.get(base, 0)
                    out.add(base if k == 0 else f"{base}-{k}")
                    seen[base] = k + 1
        # Explicit anchors: <a id="..."> / <a name="...">.
        with open(path, encoding="utf-8") as fh:
            out.update(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", fh.read()))
        _anchors[path] = out
    return _anchors[path]


def main():
    broken = []
    checked = 0
    for path in sorted(markdown_files()):
        for n, line in prose_lines(path):
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    continue
                checked += 1
                file_part, _, fragment = target.partition("#")
                dest = path if not file_part else os.path.normpath(os.path.join(os.path.dirname(path), file_part))
                where = f"{os.path.relpath(path, REPO)}:{n}"
                if not os.path.exists(dest):
                    broken.append(f"{where}: {target}: no such file")
                elif fragment and dest.endswith(".md") and fragment not in anchors(dest):
                    broken.append(f"{where}: {target}: no heading #{fragment} in {os.path.relpath(dest, REPO)}")
    for b in broken:
        print(b, file=sys.stderr)
    print(f"check-links: {checked} relative links, {len(broken)} broken", file=sys.stderr)
    return 1 if broken or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())

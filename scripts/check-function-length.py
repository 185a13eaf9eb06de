#!/usr/bin/env python3
"""No function over MAX lines outside tests (issue 24).

Reads every .rs file under src/ (tests/ and benches/ are not read), blanks comments, strings and char literals,
then matches braces: a function is counted from the line of its `fn` to the line of its closing brace, nested
functions and closures included. Skipped: a `#[cfg(test)]` item (a `mod tests { ... }` or a single test-only fn)
and a file a `#[cfg(test)] mod name;` declares. Prints the offenders, longest first, and fails if there is one.

  scripts/check-function-length.py            # check, limit 120
  scripts/check-function-length.py --all 60   # list every function over 60 lines, never fails
"""
import os
import re
import sys

MAX = 120
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def blank(src):
    """The source with comments, strings and char literals replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif re.match(r'b?r#*"', src[i:i + 40]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            m = re.match(r'b?r(#*)"', src[i:])
            end = '"' + m.group(1)
            j = src.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}', '{') or a lifetime ('a, 'static): a literal closes within a few
            # characters, a lifetime does not close.
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", src[i:])
            if m:
                out.append(" " * m.end())
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def match_brace(text, open_at):
    depth = 0
    for j in range(open_at, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(text) - 1


CFG_TEST = re.compile(r"#\[cfg\((test|all\(test[^\]]*|any\(test[^\]]*)\)\]")
FN = re.compile(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)")
MOD_DECL = re.compile(r"\bmod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;")


def item_end(text, start):
    """End offset of the item starting at `start`: its `;` or its matching `}`, whichever comes first."""
    depth_paren = 0
    for j in range(start, len(text)):
        ch = text[j]
        if ch in "([":
            depth_paren += 1
        elif ch in ")]":
            depth_paren -= 1
        elif ch == ";" and depth_paren == 0:
            return j
        elif ch == "{" and depth_paren == 0:
            return match_brace(text, j)
    return len(text) - 1


def functions(path, skip_files):
    with open(path, encoding="utf-8") as f:
        text = blank(f.read())
    # Spans of #[cfg(test)] items, and the files their `mod name;` declares.
    test_spans = []
    for m in CFG_TEST.finditer(text):
        after = m.end()
        # skip further attributes and whitespace
        k = after
        while True:
            s = re.match(r"\s*#\[[^\]]*\]", text[k:])
            if not s:
                break
            k += s.end()
        d = MOD_DECL.match(text[k:].lstrip())
        if d:
            here = os.path.dirname(path)
            stem = os.path.splitext(os.path.basename(path))[0]
            base = here if stem in ("mod", "lib", "main") else os.path.join(here, stem)
            for cand in (os.path.join(base, d.group(1) + ".rs"), os.path.join(base, d.group(1), "mod.rs")):
                skip_files.add(os.path.normpath(cand))
        test_spans.append((m.start(), item_end(text, k)))

    def in_test(pos):
        return any(a <= pos <= b for a, b in test_spans)

    found = []
    for m in FN.finditer(text):
        if in_test(m.start()):
            continue
        # the body: the first `{` outside parentheses/brackets/angle-free context, unless a `;` comes first
        depth = 0
        body = None
        for j in range(m.end(), len(text)):
            ch = text[j]
            if ch in "([":
                depth += 1
            elif ch in ")]":
                depth -= 1
            elif depth == 0 and ch == ";":
                break
            elif depth == 0 and ch == "{":
                body = j
                break
        if body is None:
            continue
        close = match_brace(text, body)
        first = text.count("\n", 0, m.start()) + 1
        last = text.count("\n", 0, close) + 1
        found.append((last - first + 1, path, first, m.group(1)))
    return found


def main(argv):
    limit, report_all = MAX, False
    if argv[1:2] == ["--all"]:
        report_all = True
        limit = int(argv[2]) if len(argv) > 2 else MAX
    src = os.path.normpath(os.path.join(ROOT, "src"))
    files = []
    for dirpath, _, names in os.walk(src):
        files += [os.path.normpath(os.path.join(dirpath, n)) for n in names if n.endswith(".rs")]
    skip = set()
    found = []
    # Two passes: the first learns which files are test-only modules.
    for path in sorted(files):
        functions(path, skip)
    for path in sorted(files):
        if path in skip:
            continue
        found += functions(path, set())
    over = sorted((f for f in found if f[0] > limit), reverse=True)
    for lines, path, line, name in over:
        print(f"{os.path.relpath(path, os.path.join(ROOT))}:{line}: fn {name}: {lines} lines")
    if over and not report_all:
        print(f"check-function-length: {len(over)} function(s) over {limit} lines outside tests;"
              " split them by concern", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Checks that the Markdown in the repository renders as written and that its links
resolve, so the pages an administrator reads first cannot silently break.

For every *.md outside build output (target*/, node_modules/, .git/):
- code fences (``` and ~~~, with or without an info string) are balanced: an
  unclosed fence turns the rest of the page into code, a stray one turns code
  (TOML tables, # comments) into headings;
- no line outside a code block looks like a TOML table header (`[sessions]`),
  the sign of a fence closed too soon;
- every relative link or image, inline `[text](path)` or a `[label]: path`
  definition, names a file or directory that exists; a `#anchor` into a Markdown
  file must match one of its headings (GitHub's slugs) or an HTML id/name.
  http(s), mailto: and other URLs with a scheme are not fetched.

Usage: scripts/check-docs.py [ROOT]   (default: the repository root)
Prints one line per problem, FILE:LINE: what; exits 1 when there is any.
Standard library only.
"""

import os
import re
import sys

SKIP_DIRS = {".git", "node_modules"}
ROOT = "."
FENCE = re.compile(r"^ *(`{3,}|~{3,})(.*)$")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ID = re.compile(r"<[^>]+\b(?:id|name)=\"([^\"]+)\"")
# `[section]` or `[[array]]` alone on a line: TOML that lost its code fence.
TOML_TABLE = re.compile(r"^\[\[?[A-Za-z_][\w.-]*\]\]?\s*(#.*)?$")


def markdown_files(root):
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d for d in dirs if d not in SKIP_DIRS and not d.startswith("target")
        )
        for name in sorted(files):
            if name.endswith(".md"):
                yield os.path.join(directory, name)


def outside_fences(lines):
    """Yields (line number, text) of lines that are not inside a code fence, and
    returns the problems with the fences themselves."""
    problems = []
    text = []
    open_fence = None  # (character, length, line number)
    for number, line in enumerate(lines, 1):
        m = FENCE.match(line)
        if open_fence is None:
            if m:
                marks, info = m.group(1), m.group(2)
                if marks[0] == "`" and "`" in info:
                    text.append((number, line))  # inline code, not a fence
                    continue
                open_fence = (marks[0], len(marks), number)
            else:
                text.append((number, line))
        elif m and m.group(1)[0] == open_fence[0] and len(m.group(1)) >= open_fence[1]:
            if m.group(2).strip():
                problems.append(
                    (number, f"a fence with an info string ({line.strip()!r}) inside "
                             f"the code block opened at line {open_fence[2]}: "
                             "is a closing fence missing?")
                )
            else:
                open_fence = None
    if open_fence is not None:
        problems.append(
            (open_fence[2], "this code fence is never closed: the rest of the page "
                            "renders as code (or an earlier fence closed too soon)")
        )
    return text, problems


def slug(heading):
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to '-'."""
    heading = re.sub(r"<[^>]+>", "", heading)
    heading = CODE_SPAN.sub(lambda m: m.group(0).strip("`"), heading)
    heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    heading = heading.strip().lower()
    heading = "".join(c for c in heading if c.isalnum() or c in " -_")
    return heading.replace(" ", "-")


ANCHORS = {}


def anchors(path):
    """The anchors a link into the Markdown file `path` may name."""
    cache = ANCHORS
    if path not in cache:
        with open(path, encoding="utf-8") as f:
            text, _ = outside_fences(f.read().splitlines())
        found, seen = set(), {}
        for _, line in text:
            m = HEADING.match(line)
            if m:
                base = slug(m.group(2))
                n = seen.get(base, 0)
                seen[base] = n + 1
                found.add(base if n == 0 else f"{base}-{n}")
            found.update(HTML_ID.findall(line))
        cache[path] = found
    return cache[path]


def check_link(source, target):
    if target.startswith("<") and target.endswith(">"):
        target = target[1:-1]
    if SCHEME.match(target):
        return None  # http(s), mailto: ...: not fetched
    path, _, anchor = target.partition("#")
    path = path.split("?", 1)[0]
    resolved = source if not path else os.path.normpath(
        os.path.join(os.path.dirname(source), path)
    )
    if not os.path.exists(resolved):
        return f"link to {target!r}: {os.path.relpath(resolved, ROOT)} does not exist"
    if anchor and resolved.endswith(".md") and os.path.isfile(resolved):
        if anchor.lower() not in anchors(resolved):
            return f"link to {target!r}: no heading with anchor #{anchor} in {os.path.relpath(resolved, ROOT)}"
    return None


def check(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    text, problems = outside_fences(lines)
    for number, line in text:
        if TOML_TABLE.match(line):
            problems.append(
                (number, f"{line.split('#')[0].strip()!r} looks like TOML outside a code block: "
                         "was a code fence closed too soon?")
            )
        line = CODE_SPAN.sub("", line)
        targets = [m.group(1) for m in INLINE_LINK.finditer(line)]
        m = REFERENCE_DEF.match(line)
        if m:
            targets.append(m.group(1))
        for target in targets:
            problem = check_link(path, target)
            if problem:
                problems.append((number, problem))
    return sorted(problems)


def main():
    global ROOT
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    root = ROOT = os.path.normpath(root)
    count, failures = 0, 0
    for path in markdown_files(root):
        count += 1
        for number, problem in check(path):
            failures += 1
            print(f"{os.path.relpath(path, root)}:{number}: {problem}")
    if failures:
        print(f"check-docs: {failures} problem(s) in the Markdown", file=sys.stderr)
        return 1
    print(f"check-docs: {count} Markdown files, fences balanced, links resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main())

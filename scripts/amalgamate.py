#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Builds the single header single_include/rtmpx/rtmpx.hpp from the headers under include/,
and its TLS companion single_include/rtmpx/tls.hpp (RTMPS, which needs OpenSSL: kept apart so
that the single header needs nothing more than before). The companion includes "rtmpx.hpp" and
holds only the headers rtmpx.hpp does not.

It starts at include/rtmpx/rtmpx.hpp and replaces each `#include <rtmpx/...>` (or a quoted
include that resolves to a header under include/rtmpx) with the text of that header, the first
time it is met, exactly where it is met: the same depth-first order in which the preprocessor
reads the headers, so `#pragma once` cycles resolve the same way. Later includes of a header
already inlined are dropped. Every other include (the standard library, Asio, fmt, OpenH264,
zlib) stays an include. `#pragma once` is stripped from the inlined headers and written once at
the top, under a banner that names the version read from include/rtmpx/version.hpp.

A header met for the first time inside an #if group (the OpenH264 adapter includes its helpers
inside `#if defined(RTMPX_WITH_OPENH264)`) is hoisted: inlined just above the outermost open
group, so it does not vanish for a later unconditional include when the condition is false. This
is valid because every rtmpx header compiles on its own with no macro defined
(tests/compile/header_selfcontained.py checks it). The exception is an `.ipp` file: the
out-of-line definitions of one header, included only at that header's end (inside
`#if RTMPX_COMPILES_DEFINITIONS` where the separately compiled mode leaves them out of the
program's other translation units); it is inlined exactly there, condition and all.

The output depends only on the input files: no timestamps, no hashes, no absolute paths, LF line
endings. Paths are taken relative to this script, so it runs from any working directory.

Usage:
    python3 scripts/amalgamate.py                  write single_include/rtmpx/rtmpx.hpp and tls.hpp
    python3 scripts/amalgamate.py --check          exit 1 if a committed file is stale
    python3 scripts/amalgamate.py --output DIR     write both into DIR instead
    python3 scripts/amalgamate.py --line-directives
                                                   add #line markers (debugging only; never
                                                   for the committed file)

Exit status: 0 success (or current), 1 stale (--check), 2 the input cannot be amalgamated.
"""

import argparse
import difflib
import re
import sys
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parent.parent
INCLUDE_DIR = REPO / "include"
ROOT_HEADER = "rtmpx/rtmpx.hpp"
TLS_ROOT_HEADER = "rtmpx/tls.hpp"
DEFAULT_OUTPUT = REPO / "single_include" / "rtmpx"
OUTPUT_NAMES = ("rtmpx.hpp", "tls.hpp")
SPDX = "// SPDX-License-Identifier: MIT"
REGENERATE_HINT = "run `meson compile -C build amalgamate` (or `python3 scripts/amalgamate.py`) and commit the result"

DIRECTIVE = re.compile(r"^\s*#\s*([A-Za-z_]\w*)\b(.*)$")
INCLUDE_ANGLE = re.compile(r"^\s*<([^>]+)>\s*(//.*|/\*.*\*/\s*)?$")
INCLUDE_QUOTE = re.compile(r'^\s*"([^"]+)"\s*(//.*|/\*.*\*/\s*)?$')
PRAGMA_ONCE = re.compile(r"^\s*#\s*pragma\s+once\s*(//.*)?$")


class AmalgamationError(Exception):
    """The input headers cannot be turned into a correct single header."""


def display(path):
    """Repository-relative POSIX path of a file (never an absolute path of this machine)."""
    return path.relative_to(REPO).as_posix()


def read_lines(path):
    text = path.read_bytes().decode("utf-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def in_block_comment_after(line, in_comment):
    """Whether a /* */ comment is still open at the end of `line` (strings and // respected)."""
    i, n = 0, len(line)
    quote = None
    while i < n:
        c = line[i]
        if in_comment:
            if line.startswith("*/", i):
                in_comment = False
                i += 2
                continue
        elif quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = None
        elif line.startswith("//", i):
            break
        elif line.startswith("/*", i):
            in_comment = True
            i += 2
            continue
        elif c in "\"'":
            # A digit separator (1'000) is not a character literal.
            if c == "'" and i > 0 and line[i - 1].isalnum() and i + 1 < n and line[i + 1].isalnum():
                i += 1
                continue
            quote = c
        i += 1
    return in_comment


def read_version():
    path = INCLUDE_DIR / "rtmpx" / "version.hpp"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise AmalgamationError(f"cannot read {display(path)}: {e.strerror}")
    parts = []
    for name in ("MAJOR", "MINOR", "PATCH"):
        m = re.search(rf"^\s*#\s*define\s+RTMPX_VERSION_{name}\s+(\d+)\s*$", text, re.MULTILINE)
        if not m:
            raise AmalgamationError(f"{display(path)}: no `#define RTMPX_VERSION_{name} <number>`")
        parts.append(m.group(1))
    return ".".join(parts)


class Amalgamator:
    def __init__(self, line_directives):
        self.line_directives = line_directives
        self.out = []           # the buffer being written (a hoisted header gets its own)
        self.inlined = set()    # headers already inlined (or being inlined)
        self.groups = []        # the open #if groups of self.out: [index of the #if line, file, line]

    def resolve(self, target, quoted, including, where):
        """Path of the rtmpx header an include names, None for an include that stays, or an error."""
        if quoted:
            candidates = [including.parent / target, INCLUDE_DIR / target]
            for c in candidates:
                c = c.resolve()
                if c.is_file() and (INCLUDE_DIR / "rtmpx") in c.parents:
                    return c
            raise AmalgamationError(f'{where}: cannot resolve #include "{target}" to a header under include/rtmpx/')
        if PurePosixPath(target).parts[:1] != ("rtmpx",):
            return None
        path = (INCLUDE_DIR / target).resolve()
        if not path.is_file() or (INCLUDE_DIR / "rtmpx") not in path.parents:
            raise AmalgamationError(f"{where}: cannot resolve #include <{target}>: no such header under include/")
        return path

    def line_marker(self, number, path):
        return f'#line {number} "{display(path)}"'

    def inline(self, path):
        """Appends `path` to self.out, its rtmpx includes inlined in place (or hoisted)."""
        name = display(path)
        self.inlined.add(path)
        depth_at_entry = len(self.groups)
        lines = read_lines(path)

        self.out.append(f"// ---- {name} ----")
        in_comment = False
        continued = False
        resync = True  # a #line marker goes before the first line that is kept
        for number, line in enumerate(lines, start=1):
            where = f"{name}:{number}"
            is_directive = not in_comment and not continued
            directive = DIRECTIVE.match(line) if is_directive else None
            in_comment = in_block_comment_after(line, in_comment)
            continued = line.endswith("\\")
            drop = False

            if number == 1 and line.strip() == SPDX:
                drop = True
            elif directive and PRAGMA_ONCE.match(line):
                drop = True
            elif directive:
                keyword, rest = directive.group(1), directive.group(2)
                if keyword in ("if", "ifdef", "ifndef"):
                    if resync and self.line_directives:
                        self.out.append(self.line_marker(number, path))
                        resync = False
                    self.groups.append([len(self.out), path, number])
                elif keyword in ("elif", "else", "elifdef", "elifndef", "endif"):
                    if len(self.groups) <= depth_at_entry:
                        raise AmalgamationError(f"{where}: #{keyword} without #if in this file")
                    if keyword == "endif":
                        self.groups.pop()
                elif keyword in ("include", "include_next", "import"):
                    drop = self.include(keyword, rest, path, where)

            if drop:
                resync = True
                continue
            if resync and self.line_directives:
                self.out.append(self.line_marker(number, path))
            resync = False
            self.out.append(line)

        if len(self.groups) != depth_at_entry:
            raise AmalgamationError(f"{name}: #if without #endif at the end of the file")
        if in_comment:
            raise AmalgamationError(f"{name}: /* comment not closed at the end of the file")
        self.out.append(f"// ---- end of {name} ----")

    def hoist(self, path):
        """Inlines `path`, met inside an #if group, just above the outermost open group.

        Every rtmpx header compiles on its own with no macro defined (the header_selfcontained
        test checks it), so moving one out of a conditional is always valid, and it keeps each
        header unconditional, whoever includes it later."""
        saved_out, saved_groups = self.out, self.groups
        self.out, self.groups = [], []
        self.inline(path)
        chunk = self.out
        self.out, self.groups = saved_out, saved_groups
        index, opener, number = self.groups[0][0], self.groups[0][1], self.groups[0][2]
        if self.line_directives:
            chunk.append(self.line_marker(number, opener))
        self.out[index:index] = chunk
        for group in self.groups:
            group[0] += len(chunk)

    def include(self, keyword, rest, including, where):
        """Handles one include directive; returns True when the line is replaced (dropped)."""
        if keyword != "include":
            raise AmalgamationError(f"{where}: #{keyword} is not supported in rtmpx headers")
        angle, quote = INCLUDE_ANGLE.match(rest), INCLUDE_QUOTE.match(rest)
        if not angle and not quote:
            raise AmalgamationError(f"{where}: computed or malformed include `#include{rest}`")
        target = (angle or quote).group(1).strip()
        path = self.resolve(target, bool(quote), including, where)
        if path is None:
            return False  # a system, Asio, fmt, OpenH264 or zlib header: keep the include
        if path not in self.inlined:
            if self.groups and path.suffix != ".ipp":
                self.hoist(path)
            else:
                self.inline(path)
        return True


def amalgamate(line_directives=False):
    """The two generated files, {name: text}, and the headers neither reaches."""
    version = read_version()
    root = INCLUDE_DIR / ROOT_HEADER
    tls_root = INCLUDE_DIR / TLS_ROOT_HEADER
    for r in (root, tls_root):
        if not r.is_file():
            raise AmalgamationError(f"{display(r)} does not exist")
    generated_notice = [
        "//",
        "// GENERATED FILE, DO NOT EDIT. It is generated from include/ by scripts/amalgamate.py;",
        "// edit the headers under include/ and regenerate it.",
        "#pragma once",
        "",
    ]
    a = Amalgamator(line_directives)
    a.inline(root.resolve())
    main = [SPDX, f"// rtmpx {version}: header-only C++20 RTMP server, single-header edition."] + generated_notice + a.out

    # The companion: what tls.hpp adds to rtmpx.hpp (whose headers it takes from there).
    t = Amalgamator(line_directives)
    t.inlined = set(a.inlined)
    t.inline(tls_root.resolve())
    tls = ([SPDX, f"// rtmpx {version}: RTMPS (TLS through OpenSSL) for the single-header edition. Keep it next",
            "// to rtmpx.hpp and link OpenSSL (-lssl -lcrypto)."] + generated_notice + ['#include "rtmpx.hpp"', ""] + t.out)

    unreached = sorted(display(p) for p in (INCLUDE_DIR / "rtmpx").rglob("*.hpp")
                       if p.resolve() not in t.inlined)
    return {"rtmpx.hpp": "\n".join(main) + "\n", "tls.hpp": "\n".join(tls) + "\n"}, unreached


def check(generated, output):
    try:
        committed = output.read_bytes().decode("utf-8")
    except OSError:
        print(f"amalgamate: {display(output) if REPO in output.parents else output} is missing", file=sys.stderr)
        print(f"amalgamate: {REGENERATE_HINT}", file=sys.stderr)
        return 1
    if committed == generated:
        return 0
    name = display(output) if REPO in output.parents else str(output)
    print(f"amalgamate: {name} is not current; first differences:", file=sys.stderr)
    diff = difflib.unified_diff(committed.split("\n"), generated.split("\n"),
                                fromfile=f"{name} (committed)", tofile=f"{name} (from include/)",
                                n=2, lineterm="")
    for i, line in enumerate(diff):
        if i >= 24:
            print("...", file=sys.stderr)
            break
        print(line, file=sys.stderr)
    print(f"amalgamate: {REGENERATE_HINT}", file=sys.stderr)
    return 1


def main(argv):
    parser = argparse.ArgumentParser(description="Build single_include/rtmpx/rtmpx.hpp from include/.")
    parser.add_argument("--check", action="store_true",
                        help="regenerate in memory and compare with the committed file (exit 1 if different)")
    parser.add_argument("--output", metavar="DIR", type=Path,
                        help=f"directory to write or check (default: {display(DEFAULT_OUTPUT)})")
    parser.add_argument("--line-directives", action="store_true",
                        help="emit #line markers pointing into include/ (debugging only)")
    args = parser.parse_args(argv)
    output = (args.output if args.output is not None else DEFAULT_OUTPUT).absolute()

    try:
        generated, unreached = amalgamate(args.line_directives)
    except AmalgamationError as e:
        print(f"amalgamate: error: {e}", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError) as e:
        print(f"amalgamate: error: {e}", file=sys.stderr)
        return 2

    if args.check:
        return max(check(text, output / name) for name, text in generated.items())

    for name in unreached:
        print(f"amalgamate: note: {name} is not reachable from include/{ROOT_HEADER} or {TLS_ROOT_HEADER}", file=sys.stderr)
    output.mkdir(parents=True, exist_ok=True)
    for name, text in generated.items():
        with open(output / name, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

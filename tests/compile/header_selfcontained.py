#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that every public header compiles on its own.

For each header under include/rtmpx (recursively, detail/ and codec/ included) it compiles the
one-line translation unit `#include <rtmpx/x.hpp>` with
`CXX -std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Werror -Iinclude`, plus the Asio
coroutine defines when the compiler is clang. At most two compilers run at a time.

Usage: header_selfcontained.py [--flag=FLAG]... [--skip=HEADER]... [CXX [CXX-ARG...]]
    CXX defaults to $CXX, then `c++`. Each --flag adds one compiler flag (for example
    --flag=-DRTMPX_WITH_OPENH264=1 to check the OpenH264 adapter with its body enabled). Each
    --skip leaves one header out (rtmpx/tls.hpp where OpenSSL's headers are missing), and says so.

Prints one line per failing header, then "N passed, N failed". Exit status: 0 all passed,
1 some failed, 2 the compiler cannot be run.
"""

import argparse
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
INCLUDE_DIR = REPO / "include"
WARNINGS = ["-Wall", "-Wextra", "-Wpedantic", "-Werror"]
CLANG_COROUTINES = ["-DASIO_HAS_CO_AWAIT=1", "-DASIO_HAS_STD_COROUTINE=1"]
JOBS = 2
SOURCE_HEADER = "rtmpx/src.hpp"
SEPARATE = "-DRTMPX_SEPARATE_COMPILATION"


def is_clang(compiler):
    try:
        out = subprocess.run(compiler + ["--version"], capture_output=True, text=True, check=False)
    except OSError as e:
        print(f"header_selfcontained: cannot run {shlex.join(compiler)}: {e.strerror}", file=sys.stderr)
        sys.exit(2)
    return "clang" in out.stdout.lower()


def first_diagnostic(output):
    lines = [line for line in output.splitlines() if line.strip()]
    for line in lines:
        if "error" in line:
            return line.strip()
    return lines[0].strip() if lines else "(no compiler output)"


def main(argv):
    parser = argparse.ArgumentParser(description="Compile each public rtmpx header on its own.")
    parser.add_argument("--flag", action="append", default=[], metavar="FLAG",
                        help="extra compiler flag (repeatable); write it as --flag=-DNAME")
    parser.add_argument("--skip", action="append", default=[], metavar="HEADER",
                        help="header to leave out (repeatable), as rtmpx/x.hpp")
    parser.add_argument("compiler", nargs=argparse.REMAINDER, help="compiler command (default: $CXX or c++)")
    args = parser.parse_args(argv)
    compiler = args.compiler or shlex.split(os.environ.get("CXX", "") or "c++")

    command = compiler + ["-std=c++20", "-fsyntax-only", *WARNINGS, f"-I{INCLUDE_DIR}"]
    if is_clang(compiler):
        command += CLANG_COROUTINES
    command += args.flag + ["-x", "c++", "-"]

    headers = sorted(p.relative_to(INCLUDE_DIR).as_posix() for p in (INCLUDE_DIR / "rtmpx").rglob("*.hpp"))
    for header in args.skip:
        print(f"skipped {header} (its dependency is not installed)")
    headers = [h for h in headers if h not in args.skip]

    def compile_one(header):
        tu = f"#include <{header}>\n"
        if header == SOURCE_HEADER and not any(a.startswith(SEPARATE) for a in command):
            tu = f"#define {SEPARATE[2:]}\n" + tu  # it is only for the separately compiled mode
        result = subprocess.run(command, input=tu, capture_output=True, text=True, cwd=REPO, check=False)
        return header, result.returncode, result.stdout + result.stderr

    failed = 0
    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        for header, code, output in pool.map(compile_one, headers):
            if code != 0:
                failed += 1
                print(f"FAIL {header}: {first_diagnostic(output)}", flush=True)
    print(f"{len(headers) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

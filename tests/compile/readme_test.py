#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compiles every ```cpp block of README.md, so that the README's code never drifts.

Usage: readme_test.py CXX [EXTRA_FLAG...]
Each block is one translation unit, compiled with -std=c++20 -fsyntax-only -Werror against
include/. Prints one line per block and "N passed, N failed".
"""

import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    cxx, extra = sys.argv[1], sys.argv[2:]
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        blocks = re.findall(r"```cpp\n(.*?)```", f.read(), re.S)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n, code in enumerate(blocks, 1):
            path = os.path.join(tmp, "readme_%d.cpp" % n)
            with open(path, "w", encoding="utf-8") as out:
                out.write(code)
            cmd = [cxx, "-std=c++20", "-fsyntax-only", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                   "-I" + os.path.join(ROOT, "include"), *extra, path]
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode == 0:
                passed += 1
                print("ok   README block %d" % n)
            else:
                failed += 1
                print("FAIL README block %d:\n%s" % (n, r.stdout[-3000:]))
    if not blocks:
        failed += 1
        print("FAIL no cpp block found in README.md")
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

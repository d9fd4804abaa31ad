#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a stub for every header under include/rtmpx (but rtmpx.hpp and tls.hpp) that includes
only <rtmpx/rtmpx.hpp> (or, for the TLS headers, the single header's companion <rtmpx/tls.hpp>),
so that tests written against include/ build against the single header.

Usage: single_header_stubs.py OUTPUT_DIR
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    out = sys.argv[1]
    base = os.path.join(ROOT, "include")
    for dirpath, _, files in os.walk(os.path.join(base, "rtmpx")):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), base)
            if rel in (os.path.join("rtmpx", "rtmpx.hpp"), os.path.join("rtmpx", "tls.hpp")) or not name.endswith(".hpp"):
                continue
            target = "rtmpx/tls.hpp" if name.startswith("tls") else "rtmpx/rtmpx.hpp"
            dest = os.path.join(out, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "w", encoding="utf-8") as f:
                f.write("// Generated stub: everything is in the single header.\n#pragma once\n#include <%s>\n" % target)
    return 0


if __name__ == "__main__":
    sys.exit(main())

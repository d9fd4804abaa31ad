#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compile time of the README's quick start against an Asio C++20 coroutine echo server (the floor
# rtmpx cannot beat), side by side in one run: `CXX -std=c++20 -O2 -c`, each compiled RUNS times
# in turn, median seconds printed. With more include directories, the quick start is also
# compiled against each (for a before/after: an older checkout's include/).
# The quick start is compiled header-only and separately compiled (RTMPX_SEPARATE_COMPILATION),
# and the library's one source file of that mode beside them.
# Usage: bash benchmarks/compile/compile_time.sh [RUNS [INCLUDE_DIR...]]   (CXX defaults to g++)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
shift $(( $# > 0 ? 1 : 0 ))
cxx=${CXX:-g++}
tmp=$(mktemp -d)
trap 'rm -rf "${tmp}"' EXIT

# The first C++ block of the README is the quick start.
awk '/^```cpp$/ { on = 1; next } /^```$/ { if (on) exit } on' README.md > "${tmp}/quick_start.cpp"
[ -s "${tmp}/quick_start.cpp" ] || { echo "no C++ block in README.md" >&2; exit 2; }

# The separately compiled mode: the quick start sees declarations only; the library's one
# source file (<rtmpx/src.hpp>) is compiled once per program, not per translation unit.
printf '#include <rtmpx/src.hpp>\n' > "${tmp}/rtmpx_source.cpp"
features="-DRTMPX_WITH_OPENH264 -DRTMPX_WITH_ZLIB"
names=("echo server (Asio floor)" "quick start (include/)" "quick start, separately compiled"
       "  the library's source file (once)")
cmds=("${cxx} -std=c++20 -O2 -c benchmarks/compile/echo_server.cpp -o ${tmp}/echo.o"
      "${cxx} -std=c++20 -O2 ${features} -Iinclude -c ${tmp}/quick_start.cpp -o ${tmp}/qs.o"
      "${cxx} -std=c++20 -O2 ${features} -DRTMPX_SEPARATE_COMPILATION -Iinclude -c ${tmp}/quick_start.cpp -o ${tmp}/qs_sep.o"
      "${cxx} -std=c++20 -O2 ${features} -DRTMPX_SEPARATE_COMPILATION -Iinclude -c ${tmp}/rtmpx_source.cpp -o ${tmp}/src.o")
for dir in "$@"; do
  names+=("quick start (${dir})")
  cmds+=("${cxx} -std=c++20 -O2 ${features} -I${dir} -c ${tmp}/quick_start.cpp -o ${tmp}/qs_other.o")
done

declare -A times
for ((r = 0; r < runs; r++)); do  # interleaved, so that machine noise hits every command alike
  for i in "${!cmds[@]}"; do
    start=$(date +%s%N)
    eval "${cmds[$i]}"
    times[$i]+="$(( ($(date +%s%N) - start) / 1000000 )) "
  done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print ((NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) / 1000 }'; }
echo "compile time, ${cxx} -std=c++20 -O2 -c, median of ${runs} runs:"
floor=$(echo "${times[0]}" | median)
for i in "${!cmds[@]}"; do
  m=$(echo "${times[$i]}" | median)
  printf "  %-40s %6.2f s  %5.2fx the echo server\n" "${names[$i]}" "${m}" "$(awk -v a="${m}" -v b="${floor}" 'BEGIN { print a / b }')"
done

#!/usr/bin/env bash
# Builds rtmpx and runs the test suites, once per compiler (default: g++ and clang++ when present):
# every suite with the first compiler; with the others, the unit and session suites and the single
# header in two translation units.
# Usage: bash scripts/test.sh [COMPILER...]
set -euo pipefail
cd "$(dirname "$0")/.."

compilers=("$@")
if [ ${#compilers[@]} -eq 0 ]; then
  compilers=(g++)
  command -v clang++ >/dev/null && compilers+=(clang++)
fi

# node-media-server, one of the origins the push tests publish to, comes from npm (when npm is
# here; without it that test is skipped, and says so).
if [ -z "${RTMPX_NODE_MEDIA_SERVER:-}" ] && command -v npm >/dev/null; then
  nms=.deps/node_modules/node-media-server/bin/app.js
  [ -f "${nms}" ] || npm install --prefix .deps --no-audit --no-fund --loglevel=error node-media-server@4 >/dev/null || true
  [ -f "${nms}" ] && export RTMPX_NODE_MEDIA_SERVER="${PWD}/${nms}"
fi

passed=0
failed=0
first=1
for cxx in "${compilers[@]}"; do
  dir="build-test-${cxx}"
  echo "== ${cxx}: configure, build, test (${dir})"
  # Every suite with the first compiler. The others build and run what depends on the compiler
  # (the unit and session suites, two translation units of the single header): the real-player,
  # example, consumer and compile-only suites exercise the same code again and take most of the
  # time, and clang runs the fuzz corpora and crashers in the fuzzers themselves (.ci/run).
  examples=enabled
  targets=()
  tests=()
  if [ "${first}" -eq 0 ]; then
    examples=disabled
    targets=(tests/rtmpx_unit tests/rtmpx_session tests/two_tu)
    tests=(--no-rebuild unit session two-tu-single-header amalgamation-is-current)
  fi
  first=0
  # libavcodec ("sorenson") is off by default (a GPL build makes the program GPL); the tests
  # turn it on when it is installed.
  libavcodec=disabled
  pkg-config --exists libavcodec libavutil 2>/dev/null && libavcodec=enabled
  if [ ! -f "${dir}/build.ninja" ]; then
    CXX="${cxx}" meson setup "${dir}" -Dwerror=true -Dtests=enabled -Dexamples="${examples}" -Dlibavcodec="${libavcodec}"
  fi
  meson compile -C "${dir}" -j 2 "${targets[@]}"
  log="${dir}/test-output.txt"
  status=0
  meson test -C "${dir}" --print-errorlogs --num-processes 1 "${tests[@]}" 2>&1 | tee "${log}" || status=1
  passed=$(( passed + $(awk '/^Ok:/ {print $2}' "${log}") ))
  failed=$(( failed + $(awk '/^Fail:|^Timeout:/ {n += $2} END {print n + 0}' "${log}") ))
  [ "${status}" -eq 0 ] || failed=$(( failed > 0 ? failed : 1 ))
done
echo "${passed} passed, ${failed} failed"
[ "${failed}" -eq 0 ]

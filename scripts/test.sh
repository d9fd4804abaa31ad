#!/usr/bin/env bash
# Builds rtmpx and runs every test suite, once per compiler (default: g++ and clang++ when present).
# Usage: bash scripts/test.sh [COMPILER...]
set -euo pipefail
cd "$(dirname "$0")/.."

compilers=("$@")
if [ ${#compilers[@]} -eq 0 ]; then
  compilers=(g++)
  command -v clang++ >/dev/null && compilers+=(clang++)
fi

passed=0
failed=0
for cxx in "${compilers[@]}"; do
  dir="build-test-${cxx}"
  echo "== ${cxx}: configure, build, test (${dir})"
  if [ ! -f "${dir}/build.ninja" ]; then
    CXX="${cxx}" meson setup "${dir}" -Dwerror=true -Dtests=enabled -Dexamples=enabled
  fi
  meson compile -C "${dir}" -j 2
  log="${dir}/test-output.txt"
  status=0
  meson test -C "${dir}" --print-errorlogs --num-processes 1 2>&1 | tee "${log}" || status=1
  passed=$(( passed + $(awk '/^Ok:/ {print $2}' "${log}") ))
  failed=$(( failed + $(awk '/^Fail:|^Timeout:/ {n += $2} END {print n + 0}' "${log}") ))
  [ "${status}" -eq 0 ] || failed=$(( failed > 0 ? failed : 1 ))
done
echo "${passed} passed, ${failed} failed"
[ "${failed}" -eq 0 ]

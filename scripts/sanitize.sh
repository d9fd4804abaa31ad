#!/usr/bin/env bash
# Runs the session and real-client suites (players, calls, fan-out, publish, RTMPS) under ASan+UBSan, against
# the single header (the sans-I/O core's parsers run under ASan+UBSan in the fuzzers), and the
# threaded paths (frame queue stress, sessions with frame threads, broadcasts, pooled threads,
# shutdown while playing, publishers into relays, rtmpx's own publisher and puller) under TSan. Any sanitizer report fails the run.
# Usage: bash scripts/sanitize.sh [asan|tsan]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."

kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(asan tsan)

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

# -O1 and line tables only: what the sanitizers need for their reports, and a third less time to
# compile than -O2 -g.
fast=(-Doptimization=1 -Ddebug=false -Dcpp_args=-g1)

for kind in "${kinds[@]}"; do
  case "${kind}" in
    asan)
      dir=build-asan
      [ -f "${dir}/build.ninja" ] || CXX=g++ meson setup "${dir}" -Db_sanitize=address,undefined \
        -Dsingle_header=true -Dexamples=disabled "${fast[@]}"
      meson compile -C "${dir}" -j 2 tests/rtmpx_session tests/interop_server
      tests=(session players calls fanout publish)
      if meson introspect "${dir}" --tests | python3 -c 'import json, sys; sys.exit("tls" not in [t["name"] for t in json.load(sys.stdin)])'; then
        tests+=(tls)  # built with OpenSSL
      fi
      meson test -C "${dir}" --no-rebuild --print-errorlogs --num-processes 1 "${tests[@]}"
      ;;
    tsan)
      dir=build-tsan
      [ -f "${dir}/build.ninja" ] || CXX=clang++ meson setup "${dir}" -Db_sanitize=thread -Db_lundef=false \
        -Dexamples=disabled "${fast[@]}"
      meson compile -C "${dir}" -j 2 tests/rtmpx_frame_queue tests/rtmpx_session
      "${dir}/tests/rtmpx_frame_queue"
      "${dir}/tests/rtmpx_session"
      ;;
    *) echo "unknown sanitizer run: ${kind}" >&2; exit 2 ;;
  esac
done

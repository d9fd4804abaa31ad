#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every libFuzzer target of a -Dfuzz=true (clang) build for a while; fails if any crashed.
#
# Usage: tests/fuzz/run_fuzzers.sh BUILD_DIR [SECONDS [TARGET...]]
#   SECONDS per target (default 45); TARGETs among amf chunk handshake session media (default: all).
#
# Each target runs on a fresh copy of its seed corpus and its kept crashers in
# BUILD_DIR/fuzz-run/<target>/corpus;
# crash, leak, timeout and out-of-memory inputs land in BUILD_DIR/fuzz-run/<target>/artifacts/,
# and libFuzzer's output in BUILD_DIR/fuzz-run/<target>/log.txt. To keep a crasher: minimise it
# (<target>_fuzzer -minimize_crash=1 -runs=10000 FILE) and commit it to tests/fuzz/crashers/<target>/.
set -u

if [[ $# -lt 1 ]]; then
    echo "usage: $0 BUILD_DIR [SECONDS [TARGET...]]" >&2
    exit 2
fi
build_dir=$(cd "$1" && pwd) || exit 2
seconds=${2:-45}
if ! [[ $seconds =~ ^[0-9]+$ ]] || [[ $seconds -eq 0 ]]; then
    echo "$0: SECONDS must be a positive integer, not '$seconds'" >&2
    exit 2
fi
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
shift $(($# < 2 ? $# : 2))
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(amf chunk handshake session media)

# UBSan findings abort (the build also sets -fno-sanitize-recover), with a stack trace.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

failed=()
for target in "${targets[@]}"; do
    exe=$build_dir/tests/fuzz/${target}_fuzzer
    if [[ ! -x $exe ]]; then
        echo "$0: $exe not found: configure with clang and -Dfuzz=true, then build" >&2
        exit 2
    fi
    work=$build_dir/fuzz-run/$target
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts"
    cp "$source_dir/corpus/$target/"* "$work/corpus/"
    # The kept crashers too: libFuzzer runs every corpus input first, so they are replayed here.
    find "$source_dir/crashers/$target" -type f ! -name .gitkeep -exec cp {} "$work/corpus/" \; 2>/dev/null

    echo "== $target: ${seconds}s"
    "$exe" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log.txt" 2>&1
    rc=$?

    execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$work/log.txt" | tail -n 1)
    status=$(grep -E '^#[0-9]+' "$work/log.txt" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
    corpus_files=$(find "$work/corpus" -type f | wc -l)
    echo "   executions: ${execs:-?}  cov: ${cov:-?}  ft: ${ft:-?}  corpus: $corpus_files files"

    artifacts=$(find "$work/artifacts" -type f)
    if [[ $rc -ne 0 || -n $artifacts ]]; then
        failed+=("$target")
        echo "   FAILED (exit status $rc); inputs saved:"
        for a in $artifacts; do echo "     $a"; done
        echo "   --- end of $work/log.txt ---"
        tail -n 60 "$work/log.txt" | sed 's/^/   | /'
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzzers that found a problem: ${failed[*]}"
    exit 1
fi
echo "no fuzzer found a problem"

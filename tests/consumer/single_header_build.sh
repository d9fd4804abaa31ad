#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Consumer test, single-header route: every example compiles with nothing but a copy of
# single_include/rtmpx/rtmpx.hpp (and its TLS companion tls.hpp, for the TLS example, when
# OpenSSL's headers are there), as a user who copied the single header has it, and
# tests/consumer/subproject/main.cpp builds that way on a plain command line, runs, and serves
# H.264 that ffprobe sees. Exit 77 (skipped) without ffprobe or OpenH264's headers.
# Usage: CXX=clang++ bash tests/consumer/single_header_build.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cxx="${CXX:-g++}"

if ! command -v ffprobe >/dev/null 2>&1; then
  echo "skip: ffprobe not found"
  exit 77
fi
# shellcheck disable=SC2086  # CXX may be a command with arguments ("ccache g++")
if ! echo '#include <wels/codec_api.h>' | ${cxx} -E -x c++ - >/dev/null 2>&1; then
  echo "skip: OpenH264 headers (wels/codec_api.h) not found"
  exit 77
fi

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "${server_pid}" ] && kill -0 "${server_pid}" 2>/dev/null; then
    kill -TERM "${server_pid}" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "${server_pid}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${server_pid}" 2>/dev/null || true
    wait "${server_pid}" 2>/dev/null || true
  fi
  rm -rf "${tmp}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

extra=()
# shellcheck disable=SC2086
if ${cxx} --version 2>/dev/null | grep -qi clang; then
  # Asio < 1.26 finds coroutines on clang only through libc++'s <experimental/coroutine>.
  extra+=(-DASIO_HAS_CO_AWAIT=1 -DASIO_HAS_STD_COROUTINE=1)
fi

cd "${repo}"
echo "== examples: each compiles against a copy of the single header alone"
mkdir -p "${tmp}/copied/rtmpx" "${tmp}/examples"
cp single_include/rtmpx/rtmpx.hpp single_include/rtmpx/tls.hpp "${tmp}/copied/rtmpx/"
cp examples/*.cpp examples/*.hpp "${tmp}/examples/"
if grep -n '#include *[<"]rtmpx/' examples/*.cpp examples/*.hpp | grep -v -e 'rtmpx/rtmpx.hpp' -e 'rtmpx/tls.hpp'; then
  echo "FAIL: an example includes an rtmpx header other than rtmpx/rtmpx.hpp and rtmpx/tls.hpp (above)"
  exit 1
fi
# shellcheck disable=SC2086
if ! echo '#include <openssl/ssl.h>' | ${cxx} -E -x c++ - >/dev/null 2>&1; then
  echo "note: OpenSSL's headers not found: the examples that include rtmpx/tls.hpp are left out"
  grep -l '#include *[<"]rtmpx/tls.hpp' "${tmp}"/examples/*.cpp | xargs -r rm -f
fi
export cxx tmp
# shellcheck disable=SC2016
if ! printf '%s\n' "${tmp}"/examples/*.cpp | xargs -P 2 -I{} sh -c \
    '${cxx} -std=c++20 -fsyntax-only -I "${tmp}/copied" "$@" -DRTMPX_WITH_OPENH264=1 -DRTMPX_WITH_ZLIB=1 {} || { echo "FAIL: {}"; exit 255; }' \
    sh "${extra[@]}"; then
  echo "FAIL: an example does not build with the single header alone"
  exit 1
fi
echo "$(ls "${tmp}"/examples/*.cpp | wc -l) examples compiled"

echo "== build: ${cxx} -std=c++20 -I single_include main.cpp (single header only)"
# shellcheck disable=SC2086
${cxx} -std=c++20 -I single_include "${extra[@]}" tests/consumer/subproject/main.cpp \
  -DRTMPX_WITH_OPENH264=1 -lopenh264 -lfmt -pthread -o "${tmp}/consumer_server"

echo "== run"
"${tmp}/consumer_server" >"${tmp}/stdout" 2>"${tmp}/stderr" &
server_pid=$!
url=""
for _ in $(seq 100); do
  url="$(head -n 1 "${tmp}/stdout" 2>/dev/null || true)"
  [ -n "${url}" ] && break
  if ! kill -0 "${server_pid}" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "${url}" ]; then
  echo "FAIL: the server printed no URL; its stderr:"
  cat "${tmp}/stderr"
  exit 1
fi
echo "url: ${url}"

echo "== ffprobe"
status=0
timeout 60 ffprobe -v error -show_streams "${url}" >"${tmp}/probe" 2>&1 || status=$?
if [ "${status}" -ne 0 ] || ! grep -q '^codec_name=h264$' "${tmp}/probe"; then
  echo "FAIL: ffprobe (exit ${status}) reported no h264 stream:"
  cat "${tmp}/probe"
  echo "server stderr:"
  cat "${tmp}/stderr"
  exit 1
fi
grep -E '^(codec_name|width|height)=' "${tmp}/probe"

echo "== stop (SIGTERM to ${server_pid})"
kill -TERM "${server_pid}"
for _ in $(seq 100); do kill -0 "${server_pid}" 2>/dev/null || break; sleep 0.1; done
if kill -0 "${server_pid}" 2>/dev/null; then
  echo "FAIL: the server is still running 10 s after SIGTERM"
  exit 1
fi
server_status=0
wait "${server_pid}" || server_status=$?
server_pid=""
if [ "${server_status}" -ne 0 ]; then
  echo "FAIL: the server exited with ${server_status} on SIGTERM; its stderr:"
  cat "${tmp}/stderr"
  exit 1
fi
echo "PASS: single-header build serves H.264"

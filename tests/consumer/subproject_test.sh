#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Consumer test, subproject route: copies tests/consumer/subproject to a temporary directory,
# puts a copy of this repository at its subprojects/rtmpx (where the wrap file's `directory`
# points, so nothing is fetched), configures and builds it with Meson in the separately compiled
# mode (`-Drtmpx:separate_compilation=true`; the header-only mode is what every other suite
# builds), checks that rtmpx's own tests and examples were left out and that the consumer's
# main.cpp did not compile the server itself, runs the server and checks with ffprobe that it
# serves H.264. Exit 77 (skipped) without ffprobe or OpenH264's headers.
# Usage: bash tests/consumer/subproject_test.sh   (CXX and MESON are honoured)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cxx="${CXX:-c++}"
meson="${MESON:-meson}"

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

consumer="${tmp}/consumer"
build="${tmp}/build"
echo "== copy the consumer project and the repository (${tmp})"
cp -R "${repo}/tests/consumer/subproject" "${consumer}"
rm -rf "${consumer}/subprojects/rtmpx"
mkdir -p "${consumer}/subprojects/rtmpx"
if git -C "${repo}" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Tracked and untracked-but-not-ignored files as they are in the work tree (no build dirs).
  (cd "${repo}" && git ls-files -z --cached --others --exclude-standard) |
    while IFS= read -r -d '' f; do [ -f "${repo}/${f}" ] && printf '%s\0' "${f}"; done |
    tar -C "${repo}" --null -T - -cf - | tar -C "${consumer}/subprojects/rtmpx" -xf -
else
  tar -C "${repo}" --exclude='./.git' --exclude='./build*' --exclude='./subprojects' -cf - . |
    tar -C "${consumer}/subprojects/rtmpx" -xf -
fi

echo "== meson setup (separately compiled)"
"${meson}" setup "${build}" "${consumer}" -Drtmpx:separate_compilation=true >"${tmp}/setup.log" 2>&1 || {
  echo "FAIL: meson setup"; cat "${tmp}/setup.log"; exit 1; }
grep -E 'Subproject rtmpx|Run-time dependency openh264|Message|WARNING' "${tmp}/setup.log" || true

echo "== meson compile -j 2"
"${meson}" compile -C "${build}" -j 2 >"${tmp}/compile.log" 2>&1 || {
  echo "FAIL: meson compile"; cat "${tmp}/compile.log"; exit 1; }

echo "== rtmpx's own tests and examples must not be part of the consumer's build"
for target in rtmpx_unit rtmpx_session interop_server render_server; do
  if grep -q "${target}" "${build}/build.ninja"; then
    echo "FAIL: the consumer's build.ninja has rtmpx's target ${target}"
    exit 1
  fi
done
if [ -e "${build}/subprojects/rtmpx/tests/rtmpx_unit" ]; then
  echo "FAIL: ${build}/subprojects/rtmpx/tests/rtmpx_unit was built"
  exit 1
fi

echo "== separately compiled: rtmpx is a static library, the server is not in main.cpp's object"
if ! ls "${build}"/subprojects/rtmpx/librtmpx.a >/dev/null 2>&1; then
  echo "FAIL: no librtmpx.a under ${build}/subprojects/rtmpx"
  exit 1
fi
main_obj="$(find "${build}/consumer_server.p" -name 'main.cpp.o' | head -n 1)"
if [ -z "${main_obj}" ]; then
  echo "FAIL: main.cpp's object not found"
  exit 1
fi
defined="$(nm -C --defined-only "${main_obj}" | grep -c 'rtmpx::[a-z0-9:]*basic_server<.*>::start(' || true)"
if [ "${defined}" -ne 0 ]; then
  echo "FAIL: main.cpp's object defines rtmpx::basic_server's start (${defined} symbols): it was compiled header-only"
  exit 1
fi
called="$(nm -C --undefined-only "${main_obj}" | grep -c 'rtmpx::[a-z0-9:]*basic_server<.*>::start(' || true)"
if [ "${called}" -eq 0 ]; then
  echo "FAIL: main.cpp's object does not call rtmpx::basic_server's start from the library"
  exit 1
fi

echo "== run"
"${build}/consumer_server" >"${tmp}/stdout" 2>"${tmp}/stderr" &
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
echo "PASS: rtmpx as a Meson subproject, separately compiled, serves H.264"

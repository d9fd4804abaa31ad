// SPDX-License-Identifier: MIT
// Two-TU link test, separately compiled: the library's one source file, from the single header.
// Parts A, B and main are compiled with RTMPX_SEPARATE_COMPILATION and see declarations only; a
// definition missing here, or compiled in both, fails the link.
#define RTMPX_SOURCE 1
#include <rtmpx/rtmpx.hpp>

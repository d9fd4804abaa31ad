// SPDX-License-Identifier: MIT
// The library's one source file in the separately compiled mode: include this header in exactly
// one .cpp of a program that defines RTMPX_SEPARATE_COMPILATION everywhere (see config.hpp).
// Nothing else belongs in that file. With the single header, the same is
// `#define RTMPX_SOURCE` followed by `#include "rtmpx.hpp"`.
#pragma once

#if !defined(RTMPX_SEPARATE_COMPILATION)
#error "<rtmpx/src.hpp> is for the separately compiled mode: define RTMPX_SEPARATE_COMPILATION in every translation unit"
#endif
#if defined(RTMPX_VERSION_MAJOR)
#error "<rtmpx/src.hpp> must come before any other rtmpx header in its source file"
#endif

#define RTMPX_SOURCE 1

#include <rtmpx/rtmpx.hpp>

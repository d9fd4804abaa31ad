// SPDX-License-Identifier: MIT
// The only place user-settable macros are read.
#pragma once

#include <cassert>
#include <cstdlib>

#include <rtmpx/version.hpp>

/// Compile-time floor for log records (0 trace .. 5 off); calls below it vanish.
#ifndef RTMPX_MIN_LOG_LEVEL
#define RTMPX_MIN_LOG_LEVEL 0
#endif

/// Precondition check for programmer errors (never for bad input, which gets an error_code).
#ifndef RTMPX_ASSERT
#define RTMPX_ASSERT(cond) assert(cond)
#endif

/// The one place the library throws; with exceptions disabled it aborts instead.
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define RTMPX_THROW(ex) throw(ex)
#else
#define RTMPX_THROW(ex) std::abort()
#endif

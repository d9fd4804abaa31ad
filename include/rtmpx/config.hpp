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

/**
 * The separately compiled mode. Define RTMPX_SEPARATE_COMPILATION in every translation unit of
 * the program and include <rtmpx/src.hpp> in exactly one source file: that file compiles the
 * library once, and the others see declarations only (and the server over TCP as an extern
 * template). Without the macro, rtmpx is header-only. RTMPX_SOURCE is set by <rtmpx/src.hpp>.
 * RTMPX_DECL marks what the library defines out of line: inline when header-only.
 */
#if defined(RTMPX_SEPARATE_COMPILATION)
#define RTMPX_DECL
#else
#define RTMPX_DECL inline
#endif

/// Whether this translation unit compiles the library's out-of-line definitions.
#if !defined(RTMPX_SEPARATE_COMPILATION) || defined(RTMPX_SOURCE)
#define RTMPX_COMPILES_DEFINITIONS 1
#else
#define RTMPX_COMPILES_DEFINITIONS 0
#endif

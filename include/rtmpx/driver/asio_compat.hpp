// SPDX-License-Identifier: MIT
// The one place that papers over differences between Asio versions.
#pragma once

#include <asio/version.hpp>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>

#if ASIO_VERSION >= 102400
#include <asio/as_tuple.hpp>
#else
#include <asio/experimental/as_tuple.hpp>
#endif

#include <rtmpx/config.hpp>

RTMPX_NAMESPACE_BEGIN
namespace detail {

/// Completion token for coroutines that want `(error_code, result...)` instead of exceptions.
#if ASIO_VERSION >= 102400
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
#else
inline constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
#endif

} // namespace detail
RTMPX_NAMESPACE_END

// SPDX-License-Identifier: MIT
// The logging hook: silent by default, cheap when disabled, never writes to stdout by itself.
#pragma once

#include <concepts>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include <rtmpx/config.hpp>
#include <rtmpx/error.hpp>

RTMPX_NAMESPACE_BEGIN

/// Severity of a log record.
enum class log_level : std::uint8_t { trace = 0, debug = 1, info = 2, warning = 3, error = 4, off = 5 };

/// One log line: level, the connection it concerns (0 for the server), a static category and text.
struct log_record {
    log_level level = log_level::info;
    std::uint64_t connection_id = 0;
    std::string_view category;  ///< "server", "session", "stream", ...
    std::string_view message;   ///< valid only during the sink call
    std::error_code error;      ///< the reason, for records about failures and closes
};

/**
 * A log sink: any callable taking `log_record const&`.
 *
 * Thread: called from the acceptor thread, connection threads and frame threads, possibly at
 * once; a sink that shares state must synchronise it.
 */
template <class F>
concept log_sink = std::invocable<F&, const log_record&>;

/// The default sink: discards everything.
struct no_log {
    void operator()(const log_record&) const noexcept {}
};

namespace detail {

/// The type-erased sink a server holds, with a runtime level check before any formatting.
class logger {
public:
    logger() = default;
    template <log_sink F>
    logger(F sink, log_level level) : sink_(std::move(sink)), level_(level) {}

    bool enabled(log_level level) const noexcept {
        constexpr auto compile_floor = static_cast<log_level>(RTMPX_MIN_LOG_LEVEL);
        return level >= compile_floor && level >= level_ && level != log_level::off && static_cast<bool>(sink_);
    }

    /// Formats and emits a record only when `level` is enabled.
    template <class... Args>
    void log(log_level level, std::uint64_t id, std::string_view category, std::error_code ec,
             fmt::format_string<Args...> format, Args&&... args) const {
        if (!enabled(level)) return;
        fmt::memory_buffer buf;
        fmt::format_to(std::back_inserter(buf), format, std::forward<Args>(args)...);
        sink_(log_record{level, id, category, std::string_view(buf.data(), buf.size()), ec});
    }

private:
    std::function<void(const log_record&)> sink_;
    log_level level_ = log_level::off;
};

/// Logs that a handler of `kind` (the record's category) about `subject` threw `e`: the one
/// policy for handler exceptions (see `guarded_call`).
inline void log_handler_exception(const logger& log, std::uint64_t id, std::string_view kind, std::string_view subject,
                                  std::exception_ptr e) noexcept {
    try {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            log.log(log_level::error, id, kind, error::handler_exception, "{} handler of {} threw: {}", kind, subject, ex.what());
        } catch (...) {
            log.log(log_level::error, id, kind, error::handler_exception, "{} handler of {} threw", kind, subject);
        }
    } catch (...) {  // a failing log sink must not turn a handler failure into a crash
    }
}

/**
 * Runs a user handler under the one policy for handler failures: an exception does not escape;
 * it is logged (level error, the handler's kind as the category, `subject` and the exception's
 * text in the message, `error::handler_exception`) and the call yields nothing. What a failure
 * leads to is the caller's (and the README's) to say.
 */
template <class F>
auto guarded_call(const logger& log, std::uint64_t id, std::string_view kind, std::string_view subject, F&& f) noexcept
    -> std::optional<std::invoke_result_t<F&>> {
    try {
        return std::optional<std::invoke_result_t<F&>>(f());
    } catch (...) {
        log_handler_exception(log, id, kind, subject, std::current_exception());
    }
    return std::nullopt;
}

} // namespace detail

RTMPX_NAMESPACE_END

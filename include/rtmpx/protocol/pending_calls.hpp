// SPDX-License-Identifier: MIT
// The calls a session made to its peer that wait for an answer: transaction ids and deadlines.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <vector>

#include <rtmpx/config.hpp>
#include <rtmpx/protocol/session_types.hpp>

RTMPX_NAMESPACE_BEGIN
namespace protocol {

/// Calls waiting for the peer's `_result` or `_error`, by transaction id, each with a deadline.
class pending_calls {
public:
    /// A new call that must be answered by `deadline`; returns its transaction id (1, 2, ...).
    double add(time_point deadline) {
        const double txn = next_txn_++;
        calls_.emplace(txn, deadline);
        return txn;
    }
    /// Removes call `txn`; false when no such call waits (a late or unknown answer).
    bool take(double txn) { return calls_.erase(txn) > 0; }
    /// Removes and returns one call whose deadline is `now` or earlier.
    std::optional<double> take_expired(time_point now) {
        for (auto it = calls_.begin(); it != calls_.end(); ++it) {
            if (it->second > now) continue;
            const double txn = it->first;
            calls_.erase(it);
            return txn;
        }
        return std::nullopt;
    }
    /// Removes and returns every call (the session ends).
    std::vector<double> take_all() {
        std::vector<double> out;
        for (const auto& c : calls_) out.push_back(c.first);
        calls_.clear();
        return out;
    }
    /// The earliest deadline, if any call waits.
    std::optional<time_point> next_deadline() const {
        std::optional<time_point> next;
        for (const auto& c : calls_)
            if (!next || c.second < *next) next = c.second;
        return next;
    }
    std::size_t size() const noexcept { return calls_.size(); }

private:
    std::map<double, time_point> calls_;
    double next_txn_ = 1;
};

} // namespace protocol
RTMPX_NAMESPACE_END

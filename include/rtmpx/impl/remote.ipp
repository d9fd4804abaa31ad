// SPDX-License-Identifier: MIT
// The out-of-line members of rtmpx/remote.hpp's remote_base: inline when header-only; compiled
// once, in the library's source file, in the separately compiled mode (see config.hpp).
#pragma once

// Included only at the end of <rtmpx/remote.hpp>, which it completes.

RTMPX_NAMESPACE_BEGIN

namespace detail {

RTMPX_DECL void remote_base::start(std::error_code& ec) {
    ec.clear();
    stop();
    url_ = protocol::parse_rtmp_url(url_text_, ec);
    if (ec) return;
    if (url_.tls && !tls_links()) {
        ec = make_error_code(error::tls_unavailable);
        return;
    }
    context_ = std::make_unique<asio::io_context>(1);
    shared_ = std::make_shared<remote_shared>();
    shared_->set_handler(handler_);
    shared_->set_reconnect([this](const std::string& tc_url) { reconnect(tc_url); });
    generation_ = 1;
    stopping_ = false;
    std::random_device rd;
    const std::uint64_t seed = (std::uint64_t{rd()} << 32) ^ rd();
    link_ = url_.tls ? tls_links()(*this, seed, ec) : make_link<asio::ip::tcp::socket>([](asio::ip::tcp::socket s) { return s; }, seed);
    if (ec) {
        link_.reset();
        context_.reset();
        return;
    }
    link_->start();
    thread_ = std::thread([this] { context_->run(); });
}

RTMPX_DECL void remote_base::reconnect(const std::string& tc_url) {
    std::shared_ptr<driver::link_control> started;  // started after the lock: its first report may call `stop`
    std::unique_lock lock(links_mutex_);
    if (stopping_) return;
    std::error_code ec;
    if (!tc_url.empty()) {
        // The tcUrl names the server and the app; the stream name stays.
        auto next = protocol::parse_rtmp_url(tc_url.substr(0, tc_url.find('?')) + "/" + url_.name, ec);
        if (!ec && (!next.tls || tls_links())) url_ = std::move(next);
    }
    ++generation_;
    shared_->newest.store(generation_);
    std::random_device rd;
    const std::uint64_t seed = (std::uint64_t{rd()} << 32) ^ rd();
    auto link = url_.tls ? tls_links()(*this, seed, ec) : make_link<asio::ip::tcp::socket>([](asio::ip::tcp::socket s) { return s; }, seed);
    if (ec || !link) return;
    old_links_.push_back(std::move(link_));
    link_ = started = std::move(link);
    lock.unlock();
    started->start();
}

RTMPX_DECL void remote_base::stop() {
    if (!thread_.joinable()) return;
    {
        std::lock_guard lock(links_mutex_);
        stopping_ = true;
        for (auto& old : old_links_) old->stop();
        link_->stop();
    }
    if (std::this_thread::get_id() == thread_.get_id()) return;  // from the state handler: the loop ends by itself
    const auto deadline = std::chrono::steady_clock::now() + options_.stop_timeout;
    while (!shared_->ended.load() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    shared_->detach_now();  // the broadcast no longer wakes a session that is about to go
    context_->stop();
    thread_.join();
    link_.reset();
    old_links_.clear();
    context_.reset();
}

} // namespace detail

RTMPX_NAMESPACE_END

// SPDX-License-Identifier: MIT
// rtmpx 0.1.0: RTMPS (TLS through OpenSSL) for the single-header edition. Keep it next
// to rtmpx.hpp and link OpenSSL (-lssl -lcrypto).
//
// GENERATED FILE, DO NOT EDIT. It is generated from include/ by scripts/amalgamate.py;
// edit the headers under include/ and regenerate it.
#pragma once

#include "rtmpx.hpp"

// ---- include/rtmpx/tls.hpp ----
// RTMPS: TLS for the server's listeners and for publishers and pullers (OpenSSL, through Asio).
//
// Include this header (and link OpenSSL: -lssl -lcrypto) to use TLS; the rest of rtmpx needs
// neither. A program that includes it anywhere can also publish to and pull from rtmps:// URLs.

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <openssl/ssl.h>

// ---- include/rtmpx/driver/tls_stream.hpp ----
// tls_stream: TLS over TCP for basic_session (Asio's ssl::stream over OpenSSL).

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <asio/buffer.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>


RTMPX_NAMESPACE_BEGIN
namespace driver {

/// Which end of the TLS connection a `tls_stream` is.
enum class tls_role { server, client };

/// What a client checks of the server it connects to.
struct tls_peer {
    std::string host;    ///< the host name (sent as SNI, matched against the certificate) or address
    bool verify = true;  ///< false: any certificate is taken (only when asked for by name)
};

/**
 * TLS over a TCP socket, for `basic_session` (a `layered_stream`):
 * - `start()` runs the handshake. A server first peeks at the first byte: anything but a TLS
 *   record (RTMP's C0 is 3) ends the connection with `error::not_tls` before OpenSSL sees it. A
 *   client sends SNI and checks the certificate against the context's trusted roots and the
 *   host name (or address); a failure is `error::certificate_expired`,
 *   `error::certificate_name_mismatch` or `error::certificate_untrusted`. Any other failure is
 *   `error::tls_handshake_failed`.
 * - Writes are whole records: each write copies up to 16 KiB of the gathered buffers into one
 *   record, so a chunk writer's many small buffers do not become many small records.
 * - `finish(bound)` sends close_notify and waits at most `bound` for it to go.
 * - A peer that closes without close_notify (`stream_truncated`) ends the connection normally.
 *
 * The stream keeps its `ssl::context` alive, so the server may replace its certificate while
 * older connections run on.
 */
class tls_stream {
public:
    using next_layer_type = asio::ip::tcp::socket;
    using lowest_layer_type = next_layer_type::lowest_layer_type;
    using executor_type = next_layer_type::executor_type;

    /// Writes go through the TLS engine only (a record must not be cut by a full socket).
    static constexpr bool immediate_writes = false;
    /// Plain text per write: one full TLS record.
    static constexpr std::size_t record_size = 16384;

    tls_stream(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> context, tls_role role, tls_peer peer = {})
        : context_(std::move(context)), ssl_(std::move(socket), *context_), role_(role), peer_(std::move(peer)) {}

    tls_stream(tls_stream&&) = default;

    executor_type get_executor() noexcept { return ssl_.get_executor(); }
    lowest_layer_type& lowest_layer() noexcept { return ssl_.lowest_layer(); }
    asio::ssl::stream<next_layer_type>& ssl() noexcept { return ssl_; }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return ssl_.async_read_some(buffers, std::forward<Token>(token));
    }

    /// Writes one record's worth of `buffers` (copied into one block first).
    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        if (record_.size() < record_size) record_.resize(record_size);
        const std::size_t n = asio::buffer_copy(asio::buffer(record_), buffers);
        return ssl_.async_write_some(asio::buffer(record_.data(), n), std::forward<Token>(token));
    }

    /// The TLS handshake (see the class comment). Coroutine.
    asio::awaitable<std::error_code> start() {
        if (role_ == tls_role::server) {
            std::byte first{};
            auto [ec, n] = co_await ssl_.next_layer().async_receive(asio::buffer(&first, 1), asio::socket_base::message_peek,
                                                                    detail::use_tuple);
            if (ec || n == 0) co_return ec ? ec : make_error_code(asio::error::eof);
            if (static_cast<std::uint8_t>(first) != protocol::tls_handshake_record) co_return make_error_code(error::not_tls);
        } else if (const std::error_code ec = expect_peer()) {
            co_return ec;
        }
        auto [ec] = co_await ssl_.async_handshake(role_ == tls_role::server ? asio::ssl::stream_base::server
                                                                             : asio::ssl::stream_base::client,
                                                  detail::use_tuple);
        co_return ec ? classify(ec) : std::error_code{};
    }

    /// Sends close_notify, waiting at most `bound` (the peer's own close_notify is not awaited). Coroutine.
    asio::awaitable<void> finish(std::chrono::milliseconds bound) {
        asio::steady_timer timer(ssl_.get_executor(), bound);
        auto waiting = std::make_shared<bool>(true);  // the handler may run after this frame is gone
        timer.async_wait([waiting, &socket = lowest_layer()](std::error_code e) {
            std::error_code ignored;
            if (!e && *waiting) socket.close(ignored);  // the peer does not read: give up on close_notify
        });
        co_await ssl_.async_shutdown(detail::use_tuple);
        *waiting = false;
        timer.cancel();
    }

    /// A peer's ordinary end: it closed the TCP connection without close_notify.
    static bool is_ordinary_end(std::error_code ec) noexcept { return ec == asio::ssl::error::stream_truncated; }

private:
    // A client's expectations of the server: SNI, and the name or address its certificate must carry.
    std::error_code expect_peer() {
        SSL* ssl = ssl_.native_handle();
        std::error_code ec;
        const auto address = asio::ip::make_address(peer_.host, ec);
        if (ec && !peer_.host.empty()) SSL_set_tlsext_host_name(ssl, peer_.host.c_str());  // SNI is for names only
        if (!peer_.verify) {
            ssl_.set_verify_mode(asio::ssl::verify_none);
            return {};
        }
        ssl_.set_verify_mode(asio::ssl::verify_peer);
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        const bool ok = ec ? X509_VERIFY_PARAM_set1_host(param, peer_.host.c_str(), peer_.host.size()) == 1
                           : X509_VERIFY_PARAM_set1_ip_asc(param, address.to_string().c_str()) == 1;
        return ok ? std::error_code{} : make_error_code(error::tls_handshake_failed);
    }

    // A handshake error as one of rtmpx's: what the certificate check found, or a failed handshake.
    std::error_code classify(std::error_code ec) {
        if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) return ec;  // closed under it
        if (role_ == tls_role::client && peer_.verify) {
            switch (SSL_get_verify_result(ssl_.native_handle())) {
            case X509_V_OK: break;
            case X509_V_ERR_CERT_HAS_EXPIRED: return make_error_code(error::certificate_expired);
            case X509_V_ERR_HOSTNAME_MISMATCH:
            case X509_V_ERR_IP_ADDRESS_MISMATCH: return make_error_code(error::certificate_name_mismatch);
            default: return make_error_code(error::certificate_untrusted);
            }
        }
        return make_error_code(error::tls_handshake_failed);
    }

    std::shared_ptr<asio::ssl::context> context_;
    asio::ssl::stream<next_layer_type> ssl_;
    tls_role role_;
    tls_peer peer_;
    std::vector<std::byte> record_;
};

} // namespace driver
RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/driver/tls_stream.hpp ----

RTMPX_NAMESPACE_BEGIN

namespace detail {

// A context for `method` (server or client) that speaks TLS 1.2 and 1.3 only.
inline std::shared_ptr<asio::ssl::context> modern_tls_context(asio::ssl::context::method method, std::error_code& ec) {
    auto context = std::make_shared<asio::ssl::context>(method);
    context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                             asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1,
                         ec);
    return context;
}

} // namespace detail

/**
 * A server's certificate chain and private key, which it can replace while it serves:
 * connections accepted after `reload` (or `replace`) use the new ones, those before keep theirs.
 * TLS 1.2 and 1.3 only, no session tickets (see `load`).
 *
 * Thread: any.
 */
class tls_certificate {
public:
    /// An `ssl::context` the application configured itself (ciphers, client certificates, ...).
    explicit tls_certificate(std::shared_ptr<asio::ssl::context> context) : context_(std::move(context)) {}

    /**
     * Loads a PEM certificate chain (the server's certificate first, then its intermediates) and
     * the PEM private key that goes with it. Errors: OpenSSL's, for a file that is missing or
     * does not parse, or a key that does not match the certificate.
     */
    static std::shared_ptr<tls_certificate> load(const std::string& chain_file, const std::string& key_file, std::error_code& ec) {
        auto context = make_context(chain_file, key_file, ec);
        return ec ? nullptr : std::make_shared<tls_certificate>(std::move(context));
    }

    /// Throwing form of `load`. @throws std::system_error
    static std::shared_ptr<tls_certificate> load(const std::string& chain_file, const std::string& key_file) {
        std::error_code ec;
        auto c = load(chain_file, key_file, ec);
        if (ec) RTMPX_THROW(std::system_error(ec, "rtmpx: cannot load the certificate " + chain_file + " and key " + key_file));
        return c;
    }

    /// Loads a new chain and key for the connections to come; on an error the old ones stay.
    void reload(const std::string& chain_file, const std::string& key_file, std::error_code& ec) {
        auto context = make_context(chain_file, key_file, ec);
        if (!ec) replace(std::move(context));
    }

    /// Uses `context` for the connections to come.
    void replace(std::shared_ptr<asio::ssl::context> context) {
        std::lock_guard lock(mutex_);
        context_ = std::move(context);
    }

    /// The context new connections get.
    std::shared_ptr<asio::ssl::context> context() const {
        std::lock_guard lock(mutex_);
        return context_;
    }

private:
    static std::shared_ptr<asio::ssl::context> make_context(const std::string& chain_file, const std::string& key_file,
                                                            std::error_code& ec) {
        ec.clear();
        auto context = detail::modern_tls_context(asio::ssl::context::tls_server, ec);
        // No TLS 1.3 session tickets: an RTMP connection lasts, and librtmp (rtmpdump,
        // python-librtmp) ends the connection when a ticket arrives after the handshake.
        if (!ec) SSL_CTX_set_num_tickets(context->native_handle(), 0);
        if (!ec) context->use_certificate_chain_file(chain_file, ec);
        if (!ec) context->use_private_key_file(key_file, asio::ssl::context::pem, ec);
        if (!ec && SSL_CTX_check_private_key(context->native_handle()) != 1)
            ec = make_error_code(std::errc::invalid_argument);  // the key is not the certificate's
        return ec ? nullptr : context;
    }

    mutable std::mutex mutex_;
    std::shared_ptr<asio::ssl::context> context_;
};

/**
 * RTMPS on a server's listener: `server.start("0.0.0.0:443", rtmpx::tls_listener(certificate))`.
 * The connections' RTMP handshake timeout covers the TLS handshake. A client that sends plain
 * RTMP to this port is closed with `error::not_tls`; one whose handshake fails with
 * `error::tls_handshake_failed` (the server's log says which, and serves on).
 */
class tls_listener {
public:
    using stream_type = driver::tls_stream;
    static constexpr std::string_view scheme = "rtmps";

    explicit tls_listener(std::shared_ptr<tls_certificate> certificate) : certificate_(std::move(certificate)) {}

    stream_type wrap(asio::ip::tcp::socket socket) const {
        return stream_type(std::move(socket), certificate_->context(), driver::tls_role::server);
    }

private:
    std::shared_ptr<tls_certificate> certificate_;
};

namespace detail {

// The link of an rtmps:// publisher or puller: SNI, and the server's certificate checked against
// the system's roots (or the CA file) and the URL's host, unless skipped by name.
struct tls_remote {
    static std::shared_ptr<driver::link_control> make(remote_base& remote, std::uint64_t seed, std::error_code& ec) {
        const auto& options = remote.options().tls;
        auto context = modern_tls_context(asio::ssl::context::tls_client, ec);
        if (!ec) {
            if (options.ca_file.empty()) context->set_default_verify_paths(ec);
            else context->load_verify_file(options.ca_file, ec);
        }
        if (ec) return nullptr;
        driver::tls_peer peer{remote.parsed_url().host, !options.insecure_skip_verification};
        return remote.make_link<driver::tls_stream>(
            [context, peer](asio::ip::tcp::socket socket) {
                return driver::tls_stream(std::move(socket), context, driver::tls_role::client, peer);
            },
            seed);
    }
};

// Including this header is what lets publishers and pullers take rtmps:// URLs.
inline const bool tls_remote_installed = (tls_links() = &tls_remote::make, true);

} // namespace detail

RTMPX_NAMESPACE_END
// ---- end of include/rtmpx/tls.hpp ----

// SPDX-License-Identifier: MIT
// RTMPS: TLS for the server's listeners and for publishers and pullers (OpenSSL, through Asio).
//
// Include this header (and link OpenSSL: -lssl -lcrypto) to use TLS; the rest of rtmpx needs
// neither. A program that includes it anywhere can also publish to and pull from rtmps:// URLs.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <openssl/ssl.h>

#include <rtmpx/config.hpp>
#include <rtmpx/driver/client_link.hpp>
#include <rtmpx/driver/tls_stream.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/remote.hpp>
#include <rtmpx/server.hpp>

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

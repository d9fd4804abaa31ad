// SPDX-License-Identifier: MIT
// Session tests of RTMPS inside one process: a server with a plain and a TLS listener, rtmpx's
// own publisher and puller over rtmps://, certificates the client refuses, plain RTMP on the TLS
// port. The certificates are made here, in memory, with OpenSSL (no key is committed).
#include <doctest/doctest.h>

#if defined(RTMPX_TEST_TLS) && __has_include(<openssl/x509v3.h>)

#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <rtmpx/relay.hpp>
#include <rtmpx/remote.hpp>
#include <rtmpx/server.hpp>

#include "remote_support.hpp"
#include <rtmpx/tls.hpp>

#if OPENSSL_VERSION_NUMBER >= 0x30000000L

using namespace rtmpx;
using namespace std::chrono_literals;
using namespace remote_support;

namespace {

// A self-signed certificate for `san` ("IP:127.0.0.1", "DNS:other.example"), valid for an hour,
// and its key, written as PEM files into a fresh directory.
struct certificate_files {
    std::filesystem::path dir, cert, key;

    explicit certificate_files(const std::string& san) {
        std::random_device rd;
        dir = std::filesystem::temp_directory_path() / ("rtmpx-tls-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(dir);
        cert = dir / "cert.pem";
        key = dir / "key.pem";
        EVP_PKEY* pkey = EVP_EC_gen("P-256");
        X509* x = X509_new();
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(rd() & 0x7fffffff));
        X509_gmtime_adj(X509_getm_notBefore(x), -60);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600);
        X509_set_pubkey(x, pkey);
        X509_NAME* name = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("rtmpx session test"), -1,
                                   -1, 0);
        X509_set_issuer_name(x, name);
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
        X509_sign(x, pkey, EVP_sha256());
        write(cert, [&](BIO* b) { PEM_write_bio_X509(b, x); });
        write(key, [&](BIO* b) { PEM_write_bio_PrivateKey(b, pkey, nullptr, nullptr, 0, nullptr, nullptr); });
        X509_free(x);
        EVP_PKEY_free(pkey);
    }
    ~certificate_files() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }

    template <class F>
    static void write(const std::filesystem::path& path, F f) {
        BIO* b = BIO_new(BIO_s_mem());
        f(b);
        char* data = nullptr;
        const long n = BIO_get_mem_data(b, &data);
        std::ofstream(path, std::ios::binary).write(data, n);
        BIO_free(b);
    }
};


// A server with a relay ("relay") on a plain and a TLS listener; its log's close reasons kept.
struct tls_origin {
    certificate_files files;
    relay names;
    server srv;
    std::mutex mutex;
    std::vector<std::error_code> closes;

    explicit tls_origin(const std::string& san) : files(san) {
        srv.set_logger([this](const log_record& r) {
            if (r.category == "session" && r.message.find("closed") != std::string_view::npos) {
                std::lock_guard lock(mutex);
                closes.push_back(r.error);
            }
        });
        srv.install(names.app("relay"));
        srv.start("127.0.0.1:0");
        srv.start("127.0.0.1:0", tls_listener(tls_certificate::load(files.cert.string(), files.key.string())));
    }
    std::string url(bool tls) const {
        return (tls ? "rtmps://127.0.0.1:" + std::to_string(srv.port(1)) : "rtmp://127.0.0.1:" + std::to_string(srv.port(0))) +
               "/relay/cam";
    }
    bool closed_with(std::error_code ec) {
        std::lock_guard lock(mutex);
        return std::find(closes.begin(), closes.end(), ec) != closes.end();
    }
};


remote_options trusting(const certificate_files& f) {
    remote_options o;
    o.tls.ca_file = f.cert.string();
    o.link.backoff = protocol::backoff_policy{100ms, 400ms, 2.0, 0.25};
    return o;
}

} // namespace

TEST_SUITE("session tls") {
    TEST_CASE("a publisher pushes over rtmps:// into the TLS listener, a puller plays it back over TLS") {
        tls_origin origin("IP:127.0.0.1");
        auto show = ticking_broadcast();
        show->start();
        publisher pub(show, origin.url(true), trusting(origin.files));
        state_log states;
        states.watch(pub);
        pub.start();
        REQUIRE(eventually([&] { return states.count(remote_state::started) == 1; }));
        CHECK(eventually([&] {
            auto b = origin.names.find("relay", "cam");
            return b && b->frames() > 20;
        }));
        auto copy = std::make_shared<broadcast>();
        puller pull(origin.url(true), copy, trusting(origin.files));
        pull.start();
        CHECK(eventually([&] { return copy->frames() > 10; }));
        CHECK(pull.statistics().bytes_in > 100);
        pull.stop();
        pub.stop();
        CHECK(states.last().state == remote_state::stopped);
        CHECK(states.count(remote_state::retrying) == 0);
        CHECK(eventually([&] { return origin.names.live_names().empty(); }));  // the polite end went through TLS
        show->stop();
    }

    TEST_CASE("certificates the client refuses: another name, no trusted root; skipping the check by name connects") {
        tls_origin origin("DNS:other.example");
        auto show = ticking_broadcast();
        struct refused_case {
            remote_options options;
            std::error_code expected;
        };
        remote_options untrusting;  // the system's roots: the test certificate is not among them
        const std::vector<refused_case> cases{{trusting(origin.files), make_error_code(error::certificate_name_mismatch)},
                                              {untrusting, make_error_code(error::certificate_untrusted)}};
        for (const auto& c : cases) {
            CAPTURE(c.expected.message());
            publisher pub(show, origin.url(true), c.options);
            state_log states;
            states.watch(pub);
            pub.start();
            REQUIRE(eventually([&] { return states.count(remote_state::failed) == 1; }));
            CHECK(states.last().error == c.expected);
            CHECK(states.last().error == condition::rejected);
            std::this_thread::sleep_for(300ms);
            CHECK(states.count(remote_state::retrying) == 0);  // not retried in a loop
        }
        remote_options insecure;
        insecure.tls.insecure_skip_verification = true;
        publisher pub(show, origin.url(true), insecure);
        state_log states;
        states.watch(pub);
        pub.start();
        CHECK(eventually([&] { return states.count(remote_state::started) == 1; }));
        pub.stop();
    }

    TEST_CASE("plain RTMP on the TLS port and TLS on the plain port end those connections only, each with its error") {
        tls_origin origin("IP:127.0.0.1");
        auto show = ticking_broadcast();
        remote_options o = trusting(origin.files);
        // Plain RTMP to the TLS port, and rtmps:// to the plain port.
        publisher plain(show, "rtmp://127.0.0.1:" + std::to_string(origin.srv.port(1)) + "/relay/a", o);
        publisher tls(show, "rtmps://127.0.0.1:" + std::to_string(origin.srv.port(0)) + "/relay/b", o);
        plain.start();
        tls.start();
        CHECK(eventually([&] { return origin.closed_with(make_error_code(error::not_tls)); }));
        CHECK(eventually([&] { return origin.closed_with(make_error_code(error::tls_on_plain_port)); }));
        plain.stop();
        tls.stop();
        // The server serves on, on both.
        for (bool secure : {false, true}) {
            publisher pub(show, origin.url(secure), o);
            state_log states;
            states.watch(pub);
            pub.start();
            CHECK(eventually([&] { return states.count(remote_state::started) == 1; }));
            pub.stop();
        }
    }
}

#endif // OPENSSL_VERSION_NUMBER
#endif // RTMPX_TEST_TLS

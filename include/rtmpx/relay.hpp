// SPDX-License-Identifier: MIT
// relay: live names per application; what is published under a name, its players watch.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rtmpx/broadcast.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/connection.hpp>
#include <rtmpx/handlers.hpp>
#include <rtmpx/stream.hpp>

RTMPX_NAMESPACE_BEGIN

/// How a relay treats publishers and keeps its names.
struct relay_options {
    /// A second publisher of a live name takes it over (the first one's connection is closed
    /// with `error::publisher_replaced`). Off: it is refused with NetStream.Publish.BadName.
    bool takeover = false;
    /// Names at once (published, or awaited by players); beyond it publish and play are refused.
    std::size_t max_names = 1000;
    /// The broadcast of each name: GOP cache, each player's queue. Its cache holds 2048 frames
    /// (published audio adds about 45 a second to the video's, and encoders' default key frame
    /// intervals reach 10 s); the byte bound stays.
    broadcast_options broadcast = [] {
        broadcast_options o;
        o.gop_cache_frames = 2048;
        return o;
    }();
    /// Asked before a publish is accepted (a token in `e.query` or the tcUrl, ...): false refuses
    /// it with `e.refusal`. Empty: every publish of a free name is accepted.
    std::function<bool(stream&, publish_event&)> authorize;
};

/**
 * Live names per application: a stream that publishes "app/name" feeds that name's `broadcast`,
 * and every stream that plays "app/name" watches it, with audio, from the last key frame (the
 * GOP cache), timestamps from 0 for each player. A player may come before the publisher: it
 * waits, and gets NetStream.Play.PublishNotify when the publisher arrives. When the publisher
 * leaves, players get NetStream.Play.UnpublishNotify and stay; a publisher that comes back (or
 * another) continues their timeline with its new sequence headers. A name is forgotten once it
 * has neither publisher nor players.
 *
 * The common case is one line, `server.install(relay.app("live"))`. To add handlers of your own,
 * call `attach(s)` in your stream handler instead (and `on_media` to see every frame).
 *
 * Thread: any. Lifetime: the handlers it installs keep its state alive.
 */
class relay {
public:
    explicit relay(relay_options options = {}) : state_(std::make_shared<state>(std::move(options))) {}

    /// A connect handler (for `server::install`) that claims connections to application
    /// `app_name` and attaches every stream they create.
    auto app(std::string app_name) const {
        return [state = state_, app_name = std::move(app_name)](connection& conn, const connect_event& e) {
            if (!e.is_create) return true;
            if (e.command.app != app_name) return false;
            conn.on_stream([state](stream& s, const stream_event& se) {
                if (se.is_create) attach(state, s);
                return true;
            });
            return true;
        };
    }

    /// Makes `s` publish into, and play from, the name its client gives (in its connection's
    /// application). Replaces the stream's publish and play handlers.
    void attach(stream& s) const { attach(state_, s); }

    /// The broadcast of `name` in application `app`, or null if nobody publishes or awaits it.
    std::shared_ptr<broadcast> find(std::string_view app, std::string_view name) const {
        std::lock_guard lock(state_->mutex);
        auto it = state_->names.find(key(app, name));
        return it == state_->names.end() ? nullptr : it->second.source;
    }

    /**
     * The broadcast of `name` in application `app`, made if need be and kept while the returned
     * pointer (or a copy) lives, even with no publisher and no player: for a `publisher` that
     * pushes the name elsewhere, or a `recorder`. Null beyond `max_names`.
     */
    std::shared_ptr<broadcast> pin(std::string_view app, std::string_view name) const {
        auto hold = std::make_shared<binding>(state_, key(app, name));
        publish_refusal ignored{};
        auto source = state_->take(hold->key, false, ignored);
        if (!source) {
            hold->key.clear();
            return nullptr;
        }
        struct pinned {
            std::shared_ptr<binding> hold;
            std::shared_ptr<broadcast> source;
        };
        auto p = std::make_shared<pinned>(pinned{std::move(hold), std::move(source)});
        return std::shared_ptr<broadcast>(p, p->source.get());
    }

    /// The "app/name" keys that have a publisher now.
    std::vector<std::string> live_names() const {
        std::lock_guard lock(state_->mutex);
        std::vector<std::string> out;
        for (const auto& [k, entry] : state_->names)
            if (entry.source->has_publisher()) out.push_back(k);
        return out;
    }

    /// Names known now (published, or awaited by players).
    std::size_t size() const {
        std::lock_guard lock(state_->mutex);
        return state_->names.size();
    }

private:
    struct entry {
        std::shared_ptr<broadcast> source;
        std::size_t users = 0;   // streams playing or publishing the name (or about to)
        bool published = false;  // a publisher holds the name
    };

    struct state {
        explicit state(relay_options o) : options(std::move(o)) {}
        const relay_options options;
        std::mutex mutex;
        std::map<std::string, entry, std::less<>> names;

        // The name's broadcast, made if need be, with one more user (a publisher: unless one
        // holds it and there is no takeover); null and a refusal otherwise.
        std::shared_ptr<broadcast> take(const std::string& k, bool publisher, publish_refusal& refusal) {
            std::lock_guard lock(mutex);
            auto it = names.find(k);
            if (it == names.end()) {
                if (names.size() >= options.max_names) {
                    refusal = publish_refusal::rejected;
                    return nullptr;
                }
                it = names.emplace(k, entry{std::make_shared<broadcast>(options.broadcast), 0, false}).first;
            }
            if (publisher) {
                if (it->second.published && !options.takeover) {
                    refusal = publish_refusal::bad_name;
                    return nullptr;
                }
                it->second.published = true;
            }
            ++it->second.users;
            return it->second.source;
        }

        // One user fewer (a publisher: the name is free again, unless another took it over);
        // the last one's leaving forgets the name.
        void give_back(const std::string& k, const broadcast* published) {
            std::lock_guard lock(mutex);
            auto it = names.find(k);
            if (it == names.end()) return;
            if (published && !published->has_publisher()) it->second.published = false;
            if (--it->second.users == 0) names.erase(it);
        }
    };

    // What a stream holds of the registry: the name it uses, given back when it stops using it
    // (or at the latest when the stream, and so its handlers, go).
    struct binding {
        binding(std::shared_ptr<state> o, std::string k) : owner(std::move(o)), key(std::move(k)) {}
        binding(const binding&) = delete;  // a copy would give the name back twice
        binding& operator=(const binding&) = delete;
        ~binding() { release(); }

        std::shared_ptr<state> owner;
        std::string key;                            // empty: none
        std::shared_ptr<broadcast> published;       // a publisher's broadcast
        void release() {
            if (key.empty()) return;
            owner->give_back(std::exchange(key, {}), published.get());
            published.reset();
        }
    };

    static std::string key(std::string_view app, std::string_view name) {
        std::string k(app);
        k += '/';
        k += name;
        return k;
    }

    static std::string_view without_query(std::string_view name) { return name.substr(0, name.find('?')); }

    static void attach(const std::shared_ptr<state>& st, stream& s) {
        auto play = std::make_shared<binding>(st, std::string());
        auto publish = std::make_shared<binding>(st, std::string());
        s.on_play([st, play](stream& self, play_event& e) {
            play->release();
            self.use_broadcast(nullptr);
            if (!e.is_start) return true;
            auto k = key(self.connection().connect_info().app, without_query(e.stream_name));
            publish_refusal ignored{};
            auto source = st->take(k, false, ignored);
            if (!source) return false;
            play->key = std::move(k);
            self.use_broadcast(std::move(source));
            return true;
        });
        s.on_publish([st, publish](stream& self, publish_event& e) {
            // The publish ends after its broadcast was released (the stream's end_publish), so
            // the name is free again unless another publisher took it over.
            publish->release();
            if (!e.is_start) return true;
            if (e.stream_name.empty()) return false;  // BadName
            if (st->options.authorize && !st->options.authorize(self, e)) return false;
            auto k = key(e.connect.app, e.stream_name);
            auto source = st->take(k, true, e.refusal);
            if (!source) {
                e.description = e.refusal == publish_refusal::bad_name ? "The name is already published." : "Too many names.";
                return false;
            }
            publish->key = std::move(k);
            publish->published = source;
            self.publish_to(std::move(source));
            return true;
        });
    }

    std::shared_ptr<state> state_;
};

RTMPX_NAMESPACE_END

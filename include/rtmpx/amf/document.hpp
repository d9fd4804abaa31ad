// SPDX-License-Identifier: MIT
// AMF0 decoded into views over the message bytes: one flat, reusable array of nodes, no copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include <rtmpx/amf/amf3_decoder.hpp>
#include <rtmpx/amf/value.hpp>
#include <rtmpx/amf/wire.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/limits.hpp>

RTMPX_NAMESPACE_BEGIN
namespace amf0 {

/**
 * One decoded value of a `document`. Strings, keys and class names are views into the decoded
 * bytes. A container's properties (or elements) follow it in the node array; `end` is the
 * index one past its last descendant, so siblings are found by skipping.
 */
struct node {
    static constexpr std::uint32_t no_amf3 = std::numeric_limits<std::uint32_t>::max();

    kind type = kind::null;
    std::int16_t timezone = 0;      ///< a date's time zone, in minutes
    std::uint32_t children = 0;     ///< properties or elements directly inside (containers)
    std::uint32_t end = 0;          ///< one past this node's last descendant
    std::uint32_t amf3 = no_amf3;   ///< an AVM+ value: its index among the document's AMF3 values
    std::string_view key;           ///< the property name, inside an object or ECMA array
    std::string_view text;          ///< a string's or XML document's text; a typed object's class name
    double number = 0;              ///< a number; a date in ms since the epoch; a boolean as 0 or 1
};

/**
 * A command or data message body decoded as views (`amf0::decode_all`'s counterpart without
 * copies): decoding allocates nothing once the document's arrays have grown to the message's
 * size, so one document reused for every message decodes at the speed of a pointer walk.
 *
 * The bytes decoded must outlive the document's use (its strings point into them). The same
 * limits and errors as `decode_all`, which accepts and refuses the same inputs; an AMF0 reference
 * becomes a copy of the nodes it names, so readers never see references. An AVM+ (AMF3) value is decoded
 * into an owning `amf0::value`, reachable with `node_ref::amf3_value()`.
 *
 *     amf0::document doc;
 *     if (doc.decode(body, ec)) {
 *         std::string_view name = doc[0].as_string();
 *         std::string_view app = doc[2]["app"].as_string();
 *     }
 */
class document {
public:
    class node_ref;

    /// Decodes values until `body` ends, replacing what the document held. On failure `ec`
    /// says why and the document holds nothing.
    bool decode(std::span<const std::byte> body, std::error_code& ec, const amf_limits& limits = {});

    /// Top-level values.
    std::size_t size() const noexcept { return top_.size(); }
    bool empty() const noexcept { return top_.empty(); }
    /// The top-level value `i`, or a missing one (null, `exists()` false).
    node_ref operator[](std::size_t i) const noexcept;
    /// Every node, in wire order (containers before their contents).
    std::span<const node> nodes() const noexcept { return nodes_; }

private:
    friend class node_ref;
    bool decode_value(detail::amf_decode_context& ctx, std::size_t depth, std::string_view key);
    bool decode_reference(detail::amf_decode_context& ctx, std::size_t depth, std::string_view key);
    // The `len` bytes at the cursor; bytes read again for a reference count as copied, as in
    // `decode_all`, so that both accept and refuse the same inputs.
    static bool take_text(detail::amf_decode_context& ctx, std::size_t len, std::string_view& out) {
        if (!ctx.need(len) || (ctx.replaying > 0 && !ctx.charge_copy(len))) return false;
        out = {reinterpret_cast<const char*>(ctx.in.data() + ctx.pos), len};
        ctx.pos += len;
        return true;
    }
    std::size_t begin_complex(std::size_t offset) {
        if (replay_ > 0) return table_.size();  // a copy is not a new table entry
        table_.push_back({offset, false});
        return table_.size() - 1;
    }
    void end_complex(std::size_t slot) noexcept {
        if (slot < table_.size()) table_[slot].complete = true;
    }
    static const node& missing() noexcept {
        static const node n;
        return n;
    }

    struct complex_entry {
        std::size_t offset;  ///< of its marker in the body
        bool complete;
    };

    std::vector<node> nodes_;
    std::vector<std::uint32_t> top_;
    std::vector<complex_entry> table_;  ///< AMF0 complex values in the order they begin
    std::size_t replay_ = 0;            ///< > 0 while a reference reads an earlier value again
    std::vector<value> amf3_;
};

/// A view of one node of a document; lenient like `value`: a wrong kind yields the fallback.
class document::node_ref {
public:
    node_ref(const document& doc, const node& n) noexcept : doc_(&doc), node_(&n) {}

    /// False for what a lookup did not find.
    bool exists() const noexcept { return node_ != &missing(); }
    kind type() const noexcept { return node_->type; }
    bool is_number() const noexcept { return type() == kind::number; }
    bool is_boolean() const noexcept { return type() == kind::boolean; }
    bool is_string() const noexcept { return type() == kind::string; }
    bool is_null() const noexcept { return type() == kind::null; }
    bool is_object() const noexcept { return type() == kind::object; }
    bool has_properties() const noexcept {
        return type() == kind::object || type() == kind::ecma_array || type() == kind::typed_object;
    }
    std::string_view key() const noexcept { return node_->key; }

    double as_number(double fallback = 0) const noexcept {
        if (const value* v = amf3_value()) return v->as_number(fallback);
        return type() == kind::number ? node_->number : fallback;
    }
    bool as_bool(bool fallback = false) const noexcept {
        if (const value* v = amf3_value()) return v->as_bool(fallback);
        return type() == kind::boolean ? node_->number != 0 : fallback;
    }
    /// A string's text (an AMF3 string's too), or `fallback`.
    std::string_view as_string(std::string_view fallback = {}) const noexcept {
        if (const value* v = amf3_value()) return v->as_string(fallback);
        return type() == kind::string ? node_->text : fallback;
    }
    /// A typed object's class name; an XML document's text.
    std::string_view text() const noexcept { return node_->text; }
    double date_ms() const noexcept { return type() == kind::date ? node_->number : 0; }
    std::int16_t date_timezone() const noexcept { return node_->timezone; }
    /// The decoded value of an AVM+ (AMF3) node, or null for an AMF0 one.
    const value* amf3_value() const noexcept {
        return node_->amf3 == node::no_amf3 ? nullptr : &doc_->amf3_[node_->amf3];
    }

    /// Properties or elements directly inside (0 for other kinds and for AMF3 values).
    std::size_t size() const noexcept { return node_->children; }

    class iterator {
    public:
        using value_type = node_ref;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        iterator(const document* d, const node* n) noexcept : doc_(d), node_(n) {}
        node_ref operator*() const noexcept { return {*doc_, *node_}; }
        iterator& operator++() noexcept {
            node_ = doc_->nodes_.data() + node_->end;
            return *this;
        }
        iterator operator++(int) noexcept {
            iterator before = *this;
            ++*this;
            return before;
        }
        bool operator==(const iterator& o) const noexcept { return node_ == o.node_; }

    private:
        const document* doc_ = nullptr;
        const node* node_ = nullptr;
    };
    /// The properties or elements, in wire order.
    iterator begin() const noexcept {
        return {doc_, node_->children == 0 ? end_node() : node_ + 1};
    }
    iterator end() const noexcept { return {doc_, end_node()}; }

    /// The first property named `name`, or a missing node.
    node_ref operator[](std::string_view name) const noexcept {
        if (has_properties()) {
            for (node_ref p : *this) {
                if (p.key() == name) return p;
            }
        }
        return {*doc_, missing()};
    }
    /// Property or element `i`, or a missing node.
    node_ref operator[](std::size_t i) const noexcept {
        if (i >= size()) return {*doc_, missing()};
        auto it = begin();
        while (i-- > 0) ++it;
        return *it;
    }

    /// An owning copy, as `decode_all` would have produced it.
    value to_value() const {
        if (const value* v = amf3_value()) return *v;
        switch (type()) {
        case kind::number: return value(node_->number);
        case kind::boolean: return value(node_->number != 0);
        case kind::string: return value(std::string(node_->text));
        case kind::null: return value::null();
        case kind::undefined: return value::undefined();
        case kind::unsupported: return value::unsupported();
        case kind::date: return value::date(node_->number, node_->timezone);
        case kind::xml_document: return value::xml_document(std::string(node_->text));
        case kind::strict_array: {
            std::vector<value> items;
            items.reserve(size());
            for (node_ref e : *this) items.push_back(e.to_value());
            return value::strict_array(std::move(items));
        }
        case kind::object:
        case kind::ecma_array:
        case kind::typed_object: {
            properties props;
            props.reserve(size());
            for (node_ref p : *this) props.emplace_back(std::string(p.key()), p.to_value());
            if (type() == kind::object) return value::object(std::move(props));
            if (type() == kind::ecma_array) return value::ecma_array(std::move(props));
            return value::typed_object(std::string(node_->text), std::move(props));
        }
        case kind::byte_array:
        case kind::dictionary: break;  // AMF3 only: amf3_value() above
        }
        return value::null();
    }

private:
    const node* end_node() const noexcept { return doc_->nodes_.data() + node_->end; }

    const document* doc_;
    const node* node_;
};

inline document::node_ref document::operator[](std::size_t i) const noexcept {
    if (i >= top_.size()) return {*this, missing()};
    return {*this, nodes_[top_[i]]};
}

inline bool document::decode(std::span<const std::byte> body, std::error_code& ec, const amf_limits& limits) {
    nodes_.clear();
    top_.clear();
    table_.clear();
    amf3_.clear();
    replay_ = 0;
    detail::amf_decode_context ctx(body, limits);
    while (ctx.pos < body.size()) {
        top_.push_back(static_cast<std::uint32_t>(nodes_.size()));
        if (!decode_value(ctx, 0, {})) {
            ec = ctx.ec;
            nodes_.clear();
            top_.clear();
            amf3_.clear();
            return false;
        }
    }
    ec.clear();
    return true;
}

inline bool document::decode_value(detail::amf_decode_context& ctx, std::size_t depth, std::string_view key) {
    using detail::amf0_marker;
    if (!ctx.need(1)) return false;
    const std::size_t start = ctx.pos;
    const auto marker = static_cast<amf0_marker>(ctx.read_u8());
    if (marker == amf0_marker::reference) return decode_reference(ctx, depth, key);
    if (marker == amf0_marker::avmplus) {
        value v;
        if (!detail::amf3_decode_value(ctx, depth, v)) return false;
        node n;
        n.type = v.type();
        n.key = key;
        n.amf3 = static_cast<std::uint32_t>(amf3_.size());
        n.end = static_cast<std::uint32_t>(nodes_.size() + 1);
        amf3_.push_back(std::move(v));
        nodes_.push_back(n);
        return true;
    }
    if (!ctx.count_element()) return false;
    const std::size_t at = nodes_.size();
    nodes_.emplace_back().key = key;
    node* n = &nodes_[at];
    switch (marker) {
    case amf0_marker::number:
        if (!ctx.need(8)) return false;
        n->type = kind::number;
        n->number = ctx.read_double();
        break;
    case amf0_marker::boolean:
        if (!ctx.need(1)) return false;
        n->type = kind::boolean;
        n->number = ctx.read_u8() != 0 ? 1 : 0;
        break;
    case amf0_marker::string:
    case amf0_marker::long_string:
    case amf0_marker::xml_document: {
        const std::size_t width = marker == amf0_marker::string ? 2 : 4;
        if (!ctx.need(width)) return false;
        const std::size_t len = width == 2 ? ctx.read_be16() : ctx.read_be32();
        n->type = marker == amf0_marker::xml_document ? kind::xml_document : kind::string;
        if (!take_text(ctx, len, n->text)) return false;
        break;
    }
    case amf0_marker::null: n->type = kind::null; break;
    case amf0_marker::undefined: n->type = kind::undefined; break;
    case amf0_marker::unsupported: n->type = kind::unsupported; break;
    case amf0_marker::date:
        if (!ctx.need(10)) return false;
        n->type = kind::date;
        n->number = ctx.read_double();
        n->timezone = static_cast<std::int16_t>(ctx.read_be16());
        break;
    case amf0_marker::object:
    case amf0_marker::ecma_array:
    case amf0_marker::typed_object: {
        if (!ctx.enter(depth)) return false;
        const std::size_t slot = begin_complex(start);
        n->type = marker == amf0_marker::object       ? kind::object
                  : marker == amf0_marker::ecma_array ? kind::ecma_array
                                                      : kind::typed_object;
        if (marker == amf0_marker::ecma_array) {
            if (!ctx.need(4)) return false;
            ctx.read_be32();  // a count hint only; the object end decides
        } else if (marker == amf0_marker::typed_object) {
            if (!ctx.need(2) || !take_text(ctx, ctx.read_be16(), n->text)) return false;
        }
        std::uint32_t children = 0;
        for (;;) {
            if (!ctx.need(2)) return false;
            const std::size_t len = ctx.read_be16();
            if (len == 0) {
                if (!ctx.need(1)) return false;
                if (ctx.peek_u8() == static_cast<std::uint8_t>(amf0_marker::object_end)) {
                    ++ctx.pos;
                    break;
                }
            }
            std::string_view name;
            if (!take_text(ctx, len, name) || !decode_value(ctx, depth + 1, name)) return false;
            ++children;
        }
        end_complex(slot);
        n = &nodes_[at];
        n->children = children;
        break;
    }
    case amf0_marker::strict_array: {
        if (!ctx.enter(depth) || !ctx.need(4)) return false;
        const std::size_t slot = begin_complex(start);
        n->type = kind::strict_array;
        const std::uint32_t count = ctx.read_be32();
        // every element takes at least one byte: check before reserving
        if (count > ctx.remaining()) return ctx.fail(error::amf_truncated);
        if (!ctx.room_for(count)) return false;
        for (std::uint32_t i = 0; i < count; ++i) {
            if (!decode_value(ctx, depth + 1, {})) return false;
        }
        end_complex(slot);
        n = &nodes_[at];
        n->children = count;
        break;
    }
    case amf0_marker::object_end: return ctx.fail(error::amf_malformed);
    default: return ctx.fail(error::amf_unknown_marker);
    }
    n->end = static_cast<std::uint32_t>(nodes_.size());
    return true;
}

// A reference reads the bytes of the complete complex value it names again, as `decode_all` does:
// the copy counts against the limits where it lands, and is not a new table entry.
inline bool document::decode_reference(detail::amf_decode_context& ctx, std::size_t depth, std::string_view key) {
    if (!ctx.need(2)) return false;
    const std::uint16_t index = ctx.read_be16();
    if (index >= table_.size() || !table_[index].complete) return ctx.fail(error::amf_bad_reference);
    const std::size_t resume = ctx.pos;
    ctx.pos = table_[index].offset;
    ++replay_;
    ++ctx.replaying;
    const bool ok = decode_value(ctx, depth, key);
    --replay_;
    --ctx.replaying;
    ctx.pos = resume;
    return ok;
}

} // namespace amf0
RTMPX_NAMESPACE_END

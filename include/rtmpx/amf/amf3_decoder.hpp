// SPDX-License-Identifier: MIT
// Bounded AMF3 decoding into amf0::value, for the AVM+ switch (0x11) inside AMF0 data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <rtmpx/amf/value.hpp>
#include <rtmpx/amf/wire.hpp>
#include <rtmpx/config.hpp>

RTMPX_NAMESPACE_BEGIN
namespace detail {

/**
 * Reads one AMF3 value with its own string, trait and object reference tables. AMF3 kinds map
 * onto amf0::value: integers and doubles to number, XML and XMLDocument to xml_document, a dense
 * array to strict_array, an array with an associative part to ecma_array (associative pairs
 * first, then the dense elements keyed "0", "1", ...), an object with a class name to
 * typed_object, vectors to strict_array. An object reference re-reads the referenced bytes, so
 * the copy is charged against the limits like the original; a reference to a value still being
 * read (a cycle) is amf_bad_reference.
 */
class amf3_decoder {
public:
    explicit amf3_decoder(amf_decode_context& ctx) noexcept : ctx_(ctx) {}

    bool decode_value(std::size_t depth, amf0::value& out) {
        if (!ctx_.need(1)) return false;
        const std::size_t start = ctx_.pos;
        const auto marker = static_cast<amf3_marker>(ctx_.read_u8());
        switch (marker) {
        case amf3_marker::undefined: return scalar(out, amf0::value::undefined());
        case amf3_marker::null: return scalar(out, amf0::value::null());
        case amf3_marker::false_: return scalar(out, amf0::value(false));
        case amf3_marker::true_: return scalar(out, amf0::value(true));
        case amf3_marker::integer: {
            std::uint32_t v = 0;
            if (!ctx_.count_element() || !read_u29(v)) return false;
            // sign-extend the 29-bit two's complement value
            const std::int32_t i = (v & 0x10000000u) != 0 ? static_cast<std::int32_t>(v) - 0x20000000
                                                            : static_cast<std::int32_t>(v);
            out = amf0::value(static_cast<double>(i));
            return true;
        }
        case amf3_marker::double_:
            if (!ctx_.count_element() || !ctx_.need(8)) return false;
            out = amf0::value(ctx_.read_double());
            return true;
        case amf3_marker::string: {
            text t;
            std::string s;
            if (!ctx_.count_element() || !read_text(t) || !make(t, false, s)) return false;
            out = amf0::value(std::move(s));
            return true;
        }
        case amf3_marker::xml_document:
        case amf3_marker::xml: return decode_xml(start, depth, out);
        case amf3_marker::date: return decode_date(start, depth, out);
        case amf3_marker::array: return decode_array(start, depth, out);
        case amf3_marker::object: return decode_object(start, depth, out);
        case amf3_marker::byte_array: return decode_byte_array(start, depth, out);
        case amf3_marker::vector_int:
        case amf3_marker::vector_uint:
        case amf3_marker::vector_double: return decode_number_vector(marker, start, depth, out);
        case amf3_marker::vector_object: return decode_object_vector(start, depth, out);
        case amf3_marker::dictionary: return decode_dictionary(start, depth, out);
        }
        return ctx_.fail(error::amf_unknown_marker);
    }

private:
    /// Input bytes of a string; `copied` when they came through a reference.
    struct text {
        std::size_t offset = 0;
        std::size_t size = 0;
        bool copied = false;
    };
    struct traits {
        text class_name;
        std::vector<text> members;
        bool dynamic = false;
    };
    struct object_entry {
        std::size_t offset;  ///< of the marker
        bool complete;
    };
    static constexpr std::size_t no_slot = std::numeric_limits<std::size_t>::max();

    bool scalar(amf0::value& out, amf0::value v) {
        if (!ctx_.count_element()) return false;
        out = std::move(v);
        return true;
    }

    bool read_u29(std::uint32_t& v) {
        v = 0;
        for (int i = 0; i < 3; ++i) {
            if (!ctx_.need(1)) return false;
            const std::uint8_t b = ctx_.read_u8();
            v = (v << 7) | (b & 0x7fu);
            if ((b & 0x80) == 0) return true;
        }
        if (!ctx_.need(1)) return false;
        v = (v << 8) | ctx_.read_u8();
        return true;
    }

    /// UTF-8-vr: a string reference or an inline string (non-empty ones enter the table).
    bool read_text(text& t) {
        std::uint32_t h = 0;
        if (!read_u29(h)) return false;
        if ((h & 1u) == 0) {
            const std::size_t index = h >> 1;
            if (index >= strings_.size()) return ctx_.fail(error::amf_bad_reference);
            t = strings_[index];
            t.copied = true;
            return true;
        }
        const std::size_t len = h >> 1;
        if (!ctx_.need(len)) return false;
        t = text{ctx_.pos, len, false};
        ctx_.pos += len;
        if (len > 0 && replay_ == 0) strings_.push_back(t);
        return true;
    }

    bool make(const text& t, bool copied, std::string& out) {
        return ctx_.make_string(t.offset, t.size, copied || t.copied, out);
    }

    /// The U29 header of a value that may be an object reference. A reference is resolved into
    /// `out` and `resolved` set; otherwise `payload` is the header without its low bit.
    bool header(std::size_t depth, amf0::value& out, std::uint32_t& payload, bool& resolved) {
        std::uint32_t h = 0;
        if (!read_u29(h)) return false;
        payload = h >> 1;
        resolved = (h & 1u) == 0;
        return !resolved || replay(payload, depth, out);
    }

    bool replay(std::uint32_t index, std::size_t depth, amf0::value& out) {
        if (index >= objects_.size() || !objects_[index].complete) return ctx_.fail(error::amf_bad_reference);
        const std::size_t resume = ctx_.pos;
        ctx_.pos = objects_[index].offset;
        ++replay_;
        ++ctx_.replaying;
        const bool ok = decode_value(depth, out);
        --replay_;
        --ctx_.replaying;
        ctx_.pos = resume;
        return ok;
    }

    std::size_t begin_object(std::size_t offset) {
        if (replay_ > 0) return no_slot;  // a copy is not a new table entry
        objects_.push_back({offset, false});
        return objects_.size() - 1;
    }
    void end_object(std::size_t slot) noexcept {
        if (slot != no_slot) objects_[slot].complete = true;
    }

    bool decode_xml(std::size_t start, std::size_t depth, amf0::value& out) {
        std::uint32_t len = 0;
        bool resolved = false;
        if (!header(depth, out, len, resolved)) return false;
        if (resolved) return true;
        std::string s;
        if (!ctx_.count_element() || !ctx_.read_string(len, s)) return false;
        end_object(begin_object(start));
        out = amf0::value::xml_document(std::move(s));
        return true;
    }

    bool decode_date(std::size_t start, std::size_t depth, amf0::value& out) {
        std::uint32_t unused = 0;
        bool resolved = false;
        if (!header(depth, out, unused, resolved)) return false;
        if (resolved) return true;
        if (!ctx_.count_element() || !ctx_.need(8)) return false;
        end_object(begin_object(start));
        out = amf0::value::date(ctx_.read_double());
        return true;
    }

    bool decode_byte_array(std::size_t start, std::size_t depth, amf0::value& out) {
        std::uint32_t len = 0;
        bool resolved = false;
        if (!header(depth, out, len, resolved)) return false;
        if (resolved) return true;
        if (!ctx_.count_element() || !ctx_.need(len)) return false;
        if (ctx_.replaying > 0 && !ctx_.charge_copy(len)) return false;
        const auto src = ctx_.in.subspan(ctx_.pos, len);
        std::vector<std::byte> data(src.begin(), src.end());
        ctx_.pos += len;
        end_object(begin_object(start));
        out = amf0::value::byte_array(std::move(data));
        return true;
    }

    bool decode_array(std::size_t start, std::size_t depth, amf0::value& out) {
        std::uint32_t dense = 0;
        bool resolved = false;
        if (!header(depth, out, dense, resolved)) return false;
        if (resolved) return true;
        if (!ctx_.count_element() || !ctx_.enter(depth)) return false;
        const std::size_t slot = begin_object(start);
        amf0::properties assoc;
        for (;;) {
            text key;
            if (!read_text(key)) return false;
            if (key.size == 0) break;
            std::string name;
            amf0::value v;
            if (!make(key, false, name) || !decode_value(depth + 1, v)) return false;
            assoc.emplace_back(std::move(name), std::move(v));
        }
        // every element takes at least one byte: check before reserving
        if (dense > ctx_.remaining()) return ctx_.fail(error::amf_truncated);
        if (!ctx_.room_for(dense)) return false;
        std::vector<amf0::value> items;
        items.reserve(dense);
        for (std::uint32_t i = 0; i < dense; ++i) {
            amf0::value v;
            if (!decode_value(depth + 1, v)) return false;
            items.push_back(std::move(v));
        }
        end_object(slot);
        if (assoc.empty()) {
            out = amf0::value::strict_array(std::move(items));
            return true;
        }
        assoc.reserve(assoc.size() + items.size());
        for (std::size_t i = 0; i < items.size(); ++i) assoc.emplace_back(std::to_string(i), std::move(items[i]));
        out = amf0::value::ecma_array(std::move(assoc));
        return true;
    }

    bool decode_object(std::size_t start, std::size_t depth, amf0::value& out) {
        std::uint32_t h = 0;
        bool resolved = false;
        if (!header(depth, out, h, resolved)) return false;
        if (resolved) return true;
        if (!ctx_.count_element() || !ctx_.enter(depth)) return false;
        // h (the header without its low bit): bit 0 inline traits, bit 1 externalizable,
        // bit 2 dynamic, the rest the sealed member count
        traits t;
        bool traits_copied = false;
        if ((h & 1u) == 0) {
            const std::size_t index = h >> 1;
            if (index >= traits_.size()) return ctx_.fail(error::amf_bad_reference);
            // every sealed member needs a value of at least one byte: check before copying
            if (traits_[index].members.size() > ctx_.remaining()) return ctx_.fail(error::amf_truncated);
            t = traits_[index];
            traits_copied = true;
        } else {
            if ((h & 2u) != 0) return ctx_.fail(error::amf3_externalizable);
            t.dynamic = (h & 4u) != 0;
            const std::size_t sealed = h >> 3;
            if (!read_text(t.class_name)) return false;
            if (sealed > ctx_.remaining()) return ctx_.fail(error::amf_truncated);
            t.members.reserve(sealed);
            for (std::size_t i = 0; i < sealed; ++i) {
                text name;
                if (!read_text(name)) return false;
                t.members.push_back(name);
            }
            if (replay_ == 0) traits_.push_back(t);
        }
        const std::size_t slot = begin_object(start);
        if (t.members.size() > ctx_.remaining()) return ctx_.fail(error::amf_truncated);
        if (!ctx_.room_for(t.members.size())) return false;
        amf0::properties props;
        props.reserve(t.members.size());
        for (const text& member : t.members) {
            std::string name;
            amf0::value v;
            if (!make(member, traits_copied, name) || !decode_value(depth + 1, v)) return false;
            props.emplace_back(std::move(name), std::move(v));
        }
        if (t.dynamic) {
            for (;;) {
                text key;
                if (!read_text(key)) return false;
                if (key.size == 0) break;
                std::string name;
                amf0::value v;
                if (!make(key, false, name) || !decode_value(depth + 1, v)) return false;
                props.emplace_back(std::move(name), std::move(v));
            }
        }
        std::string class_name;
        if (!make(t.class_name, traits_copied, class_name)) return false;
        end_object(slot);
        out = class_name.empty() ? amf0::value::object(std::move(props))
                                 : amf0::value::typed_object(std::move(class_name), std::move(props));
        return true;
    }

    bool decode_number_vector(amf3_marker marker, std::size_t start, std::size_t depth, amf0::value& out) {
        std::uint32_t count = 0;
        bool resolved = false;
        if (!header(depth, out, count, resolved)) return false;
        if (resolved) return true;
        if (!ctx_.count_element() || !ctx_.enter(depth) || !ctx_.need(1)) return false;
        ctx_.read_u8();  // fixed-length flag
        const std::size_t width = marker == amf3_marker::vector_double ? 8 : 4;
        if (count > ctx_.remaining() / width) return ctx_.fail(error::amf_truncated);
        if (!ctx_.room_for(count)) return false;
        std::vector<amf0::value> items;
        items.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i) {
            ctx_.count_element();  // cannot fail after room_for
            if (marker == amf3_marker::vector_double) {
                items.emplace_back(ctx_.read_double());
            } else if (marker == amf3_marker::vector_int) {
                items.emplace_back(static_cast<double>(static_cast<std::int32_t>(ctx_.read_be32())));
            } else {
                items.emplace_back(static_cast<double>(ctx_.read_be32()));
            }
        }
        end_object(begin_object(start));
        out = amf0::value::strict_array(std::move(items));
        return true;
    }

    bool decode_object_vector(std::size_t start, std::size_t depth, amf0::value& out) {
        std::uint32_t count = 0;
        bool resolved = false;
        if (!header(depth, out, count, resolved)) return false;
        if (resolved) return true;
        if (!ctx_.count_element() || !ctx_.enter(depth) || !ctx_.need(1)) return false;
        ctx_.read_u8();  // fixed-length flag
        const std::size_t slot = begin_object(start);
        text type_name;  // the element class name; amf0::value has nowhere to keep it
        if (!read_text(type_name)) return false;
        if (count > ctx_.remaining()) return ctx_.fail(error::amf_truncated);
        if (!ctx_.room_for(count)) return false;
        std::vector<amf0::value> items;
        items.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i) {
            amf0::value v;
            if (!decode_value(depth + 1, v)) return false;
            items.push_back(std::move(v));
        }
        end_object(slot);
        out = amf0::value::strict_array(std::move(items));
        return true;
    }

    bool decode_dictionary(std::size_t start, std::size_t depth, amf0::value& out) {
        std::uint32_t count = 0;
        bool resolved = false;
        if (!header(depth, out, count, resolved)) return false;
        if (resolved) return true;
        if (!ctx_.count_element() || !ctx_.enter(depth) || !ctx_.need(1)) return false;
        ctx_.read_u8();  // weak-keys flag
        const std::size_t slot = begin_object(start);
        if (count > ctx_.remaining() / 2) return ctx_.fail(error::amf_truncated);
        if (!ctx_.room_for(std::size_t{count} * 2)) return false;
        std::vector<std::pair<amf0::value, amf0::value>> pairs;
        pairs.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i) {
            amf0::value key;
            amf0::value v;
            if (!decode_value(depth + 1, key) || !decode_value(depth + 1, v)) return false;
            pairs.emplace_back(std::move(key), std::move(v));
        }
        end_object(slot);
        out = amf0::value::dictionary(std::move(pairs));
        return true;
    }

    amf_decode_context& ctx_;
    std::vector<text> strings_;
    std::vector<traits> traits_;
    std::vector<object_entry> objects_;
    std::size_t replay_ = 0;
};

inline bool amf3_decode_value(amf_decode_context& ctx, std::size_t depth, amf0::value& out) {
    amf3_decoder decoder(ctx);
    return decoder.decode_value(depth, out);
}

} // namespace detail
RTMPX_NAMESPACE_END

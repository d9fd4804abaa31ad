// SPDX-License-Identifier: MIT
// AMF0 values, their encoder and their bounded decoder (with the AVM+ switch to AMF3).
#pragma once

#include <algorithm>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include <rtmpx/config.hpp>
#include <rtmpx/detail/endian.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/limits.hpp>

RTMPX_NAMESPACE_BEGIN
namespace amf0 {

/// What a `value` holds. byte_array and dictionary exist only in AMF3 and travel inside AMF0
/// through the AVM+ switch.
enum class kind {
    number,
    boolean,
    string,
    object,
    null,
    undefined,
    ecma_array,
    strict_array,
    date,
    xml_document,
    typed_object,
    unsupported,
    byte_array,
    dictionary
};

class value;
using property = std::pair<std::string, value>;
using properties = std::vector<property>;  ///< ordered, as on the wire

/**
 * One AMF value (AMF0, or AMF3 mapped onto the same kinds). Objects keep their properties in
 * wire order and may repeat a key. Accessors of the "as_" and lookup family are lenient: the
 * wrong kind yields the fallback or a null value. The reference accessors (props(), elements(),
 * ...) have a precondition on the kind.
 */
class value {
public:
    value() noexcept = default;  ///< null
    value(double d) noexcept : data_(std::in_place_type<double>, d), kind_(kind::number) {}
    value(bool b) noexcept : data_(std::in_place_type<bool>, b), kind_(kind::boolean) {}
    value(std::string s) : data_(std::in_place_type<std::string>, std::move(s)), kind_(kind::string) {}
    value(std::string_view s) : value(std::string(s)) {}
    value(const char* s) : value(std::string_view(s != nullptr ? s : "")) {}
    template <std::integral I>
        requires(!std::same_as<I, bool>)
    value(I i) noexcept : data_(std::in_place_type<double>, static_cast<double>(i)), kind_(kind::number) {}

    static value null() noexcept { return value(); }
    static value undefined() noexcept { return value(kind::undefined, std::in_place_type<std::monostate>); }
    static value unsupported() noexcept { return value(kind::unsupported, std::in_place_type<std::monostate>); }
    static value object(properties props = {}) {
        return value(kind::object, std::in_place_type<properties>, std::move(props));
    }
    static value object(std::initializer_list<property> props) { return object(properties(props)); }
    static value ecma_array(properties props = {}) {
        return value(kind::ecma_array, std::in_place_type<properties>, std::move(props));
    }
    static value ecma_array(std::initializer_list<property> props) { return ecma_array(properties(props)); }
    static value strict_array(std::vector<value> items = {}) {
        return value(kind::strict_array, std::in_place_type<std::vector<value>>, std::move(items));
    }
    static value date(double ms_since_epoch, std::int16_t timezone_minutes = 0) noexcept {
        return value(kind::date, std::in_place_type<date_data>, date_data{ms_since_epoch, timezone_minutes});
    }
    static value xml_document(std::string text) {
        return value(kind::xml_document, std::in_place_type<std::string>, std::move(text));
    }
    static value typed_object(std::string name, properties props = {}) {
        return value(kind::typed_object, std::in_place_type<typed_data>, typed_data{std::move(name), std::move(props)});
    }
    static value typed_object(std::string name, std::initializer_list<property> props) {
        return typed_object(std::move(name), properties(props));
    }
    static value byte_array(std::vector<std::byte> data) {
        return value(kind::byte_array, std::in_place_type<std::vector<std::byte>>, std::move(data));
    }
    static value dictionary(std::vector<std::pair<value, value>> pairs) {
        return value(kind::dictionary, std::in_place_type<entry_list>, std::move(pairs));
    }

    kind type() const noexcept { return kind_; }
    bool is_number() const noexcept { return kind_ == kind::number; }
    bool is_boolean() const noexcept { return kind_ == kind::boolean; }
    bool is_string() const noexcept { return kind_ == kind::string; }
    bool is_object() const noexcept { return kind_ == kind::object; }
    bool is_null() const noexcept { return kind_ == kind::null; }
    bool is_undefined() const noexcept { return kind_ == kind::undefined; }
    bool is_ecma_array() const noexcept { return kind_ == kind::ecma_array; }
    bool is_strict_array() const noexcept { return kind_ == kind::strict_array; }
    bool is_date() const noexcept { return kind_ == kind::date; }
    bool is_xml_document() const noexcept { return kind_ == kind::xml_document; }
    bool is_typed_object() const noexcept { return kind_ == kind::typed_object; }
    bool is_unsupported() const noexcept { return kind_ == kind::unsupported; }
    bool is_byte_array() const noexcept { return kind_ == kind::byte_array; }
    bool is_dictionary() const noexcept { return kind_ == kind::dictionary; }
    /// object, ecma_array or typed_object: the kinds with named properties.
    bool has_properties() const noexcept {
        return kind_ == kind::object || kind_ == kind::ecma_array || kind_ == kind::typed_object;
    }

    /// The number, or `fallback` for any other kind (dates included).
    double as_number(double fallback = 0) const noexcept {
        const double* d = std::get_if<double>(&data_);
        return d != nullptr ? *d : fallback;
    }
    bool as_bool(bool fallback = false) const noexcept {
        const bool* b = std::get_if<bool>(&data_);
        return b != nullptr ? *b : fallback;
    }
    /// The text of a string or xml_document, else `fallback`.
    std::string_view as_string(std::string_view fallback = {}) const noexcept {
        const std::string* s = std::get_if<std::string>(&data_);
        return s != nullptr ? std::string_view(*s) : fallback;
    }

    /// First property named `key`, or a null value (also for kinds without properties).
    const value& operator[](std::string_view key) const noexcept {
        const value* v = find(key);
        return v != nullptr ? *v : null_value();
    }
    /// Element `index` of a strict_array, or a null value.
    const value& operator[](std::size_t index) const noexcept {
        const auto* elems = std::get_if<std::vector<value>>(&data_);
        return elems != nullptr && index < elems->size() ? (*elems)[index] : null_value();
    }
    const value* find(std::string_view key) const noexcept {
        const properties* props = props_if();
        if (props == nullptr) return nullptr;
        for (const property& p : *props) {
            if (p.first == key) return &p.second;
        }
        return nullptr;
    }
    bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }

    /// Replaces the first property named `key` or appends one. Precondition: has_properties().
    value& set(std::string key, value v) {
        properties& list = props();
        for (property& p : list) {
            if (p.first == key) {
                p.second = std::move(v);
                return *this;
            }
        }
        list.emplace_back(std::move(key), std::move(v));
        return *this;
    }

    properties& props() {
        RTMPX_ASSERT(has_properties());
        if (kind_ == kind::typed_object) return std::get<typed_data>(data_).props;
        return std::get<properties>(data_);
    }
    const properties& props() const {
        RTMPX_ASSERT(has_properties());
        if (kind_ == kind::typed_object) return std::get<typed_data>(data_).props;
        return std::get<properties>(data_);
    }
    std::vector<value>& elements() {
        RTMPX_ASSERT(is_strict_array());
        return std::get<std::vector<value>>(data_);
    }
    const std::vector<value>& elements() const {
        RTMPX_ASSERT(is_strict_array());
        return std::get<std::vector<value>>(data_);
    }
    const std::string& class_name() const {
        RTMPX_ASSERT(is_typed_object());
        return std::get<typed_data>(data_).class_name;
    }
    double date_ms() const {
        RTMPX_ASSERT(is_date());
        return std::get<date_data>(data_).ms;
    }
    std::int16_t date_timezone() const {
        RTMPX_ASSERT(is_date());
        return std::get<date_data>(data_).timezone;
    }
    std::vector<std::byte>& bytes() {
        RTMPX_ASSERT(is_byte_array());
        return std::get<std::vector<std::byte>>(data_);
    }
    const std::vector<std::byte>& bytes() const {
        RTMPX_ASSERT(is_byte_array());
        return std::get<std::vector<std::byte>>(data_);
    }
    std::vector<std::pair<value, value>>& entries() {
        RTMPX_ASSERT(is_dictionary());
        return std::get<entry_list>(data_);
    }
    const std::vector<std::pair<value, value>>& entries() const {
        RTMPX_ASSERT(is_dictionary());
        return std::get<entry_list>(data_);
    }

    /// Number of properties, elements or dictionary entries; 0 for every other kind.
    std::size_t size() const noexcept {
        if (const properties* props = props_if()) return props->size();
        if (const auto* elems = std::get_if<std::vector<value>>(&data_)) return elems->size();
        if (const auto* list = std::get_if<entry_list>(&data_)) return list->size();
        return 0;
    }

    /// Deep equality; numbers (and dates) compare equal when == holds or their bits match, so NaN == NaN.
    friend bool operator==(const value& a, const value& b);

private:
    struct date_data {
        double ms = 0;
        std::int16_t timezone = 0;
    };
    struct typed_data {
        std::string class_name;
        properties props;
    };
    using entry_list = std::vector<std::pair<value, value>>;
    using storage = std::variant<std::monostate, double, bool, std::string, properties, std::vector<value>, date_data,
                                 typed_data, std::vector<std::byte>, entry_list>;

    template <typename T, typename... Args>
    value(kind k, std::in_place_type_t<T> tag, Args&&... args) : data_(tag, std::forward<Args>(args)...), kind_(k) {}

    const properties* props_if() const noexcept {
        if (const auto* typed = std::get_if<typed_data>(&data_)) return &typed->props;
        return std::get_if<properties>(&data_);
    }
    static const value& null_value() noexcept {
        static const value instance;
        return instance;
    }
    static bool same_number(double a, double b) noexcept {
        return a == b || std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
    }
    static bool same_properties(const properties& a, const properties& b) {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (a[i].first != b[i].first || !(a[i].second == b[i].second)) return false;
        }
        return true;
    }

    storage data_;
    kind kind_ = kind::null;
};

inline bool operator==(const value& a, const value& b) {
    if (a.kind_ != b.kind_) return false;
    switch (a.kind_) {
    case kind::null:
    case kind::undefined:
    case kind::unsupported: return true;
    case kind::number: return value::same_number(std::get<double>(a.data_), std::get<double>(b.data_));
    case kind::boolean: return std::get<bool>(a.data_) == std::get<bool>(b.data_);
    case kind::string:
    case kind::xml_document: return std::get<std::string>(a.data_) == std::get<std::string>(b.data_);
    case kind::object:
    case kind::ecma_array: return value::same_properties(std::get<properties>(a.data_), std::get<properties>(b.data_));
    case kind::typed_object: {
        const auto& x = std::get<value::typed_data>(a.data_);
        const auto& y = std::get<value::typed_data>(b.data_);
        return x.class_name == y.class_name && value::same_properties(x.props, y.props);
    }
    case kind::strict_array: {
        const auto& x = std::get<std::vector<value>>(a.data_);
        const auto& y = std::get<std::vector<value>>(b.data_);
        if (x.size() != y.size()) return false;
        for (std::size_t i = 0; i < x.size(); ++i) {
            if (!(x[i] == y[i])) return false;
        }
        return true;
    }
    case kind::date: {
        const auto& x = std::get<value::date_data>(a.data_);
        const auto& y = std::get<value::date_data>(b.data_);
        return value::same_number(x.ms, y.ms) && x.timezone == y.timezone;
    }
    case kind::byte_array: return std::get<std::vector<std::byte>>(a.data_) == std::get<std::vector<std::byte>>(b.data_);
    case kind::dictionary: {
        const auto& x = std::get<value::entry_list>(a.data_);
        const auto& y = std::get<value::entry_list>(b.data_);
        if (x.size() != y.size()) return false;
        for (std::size_t i = 0; i < x.size(); ++i) {
            if (!(x[i].first == y[i].first) || !(x[i].second == y[i].second)) return false;
        }
        return true;
    }
    }
    return false;
}

} // namespace amf0

namespace detail {

/// Appends the bytes of `text` (AMF strings are raw UTF-8; no validation either way).
inline void amf_put_text(std::vector<std::byte>& out, std::string_view text) {
    const std::size_t at = out.size();
    out.resize(at + text.size());
    std::transform(text.begin(), text.end(), out.begin() + static_cast<std::ptrdiff_t>(at),
                   [](char c) { return static_cast<std::byte>(c); });
}

inline void amf_put_double(std::vector<std::byte>& out, double d) { put_be64(out, std::bit_cast<std::uint64_t>(d)); }

/// Writes one AMF3 value (marker included); defined in detail/amf3_encoder.hpp.
inline void amf3_encode(const amf0::value& v, std::vector<std::byte>& out);

inline std::size_t amf_saturating_add(std::size_t a, std::size_t b) noexcept {
    return a > std::numeric_limits<std::size_t>::max() - b ? std::numeric_limits<std::size_t>::max() : a + b;
}

/**
 * Cursor and budgets shared by the AMF0 and AMF3 decoders during one decode call. Besides the
 * depth and element limits, bytes that references copy (AMF0 object references, AMF3 string,
 * trait and object references) are bounded by the input size plus 64 bytes per allowed
 * element, so a few bytes of references cannot expand into gigabytes of copies.
 */
struct amf_decode_context {
    amf_decode_context(std::span<const std::byte> input, const amf_limits& lim) noexcept
        : in(input),
          limits(lim),
          copy_budget(amf_saturating_add(
              input.size(), lim.max_elements > std::numeric_limits<std::size_t>::max() / 64
                                ? std::numeric_limits<std::size_t>::max()
                                : lim.max_elements * 64)) {}

    std::span<const std::byte> in;
    std::size_t pos = 0;
    amf_limits limits;
    std::size_t elements = 0;
    std::size_t copy_budget = 0;
    std::size_t replaying = 0;  ///< > 0 while a reference re-reads an earlier value
    std::error_code ec;

    bool fail(error e) noexcept {
        ec = make_error_code(e);
        return false;
    }
    std::size_t remaining() const noexcept { return in.size() - pos; }
    bool need(std::size_t n) noexcept { return n <= remaining() || fail(error::amf_truncated); }
    // The readers below require a successful need() first.
    std::uint8_t peek_u8() const noexcept { return u8(in[pos]); }
    std::uint8_t read_u8() noexcept { return u8(in[pos++]); }
    std::uint16_t read_be16() noexcept {
        const std::uint16_t v = load_be16(in.subspan(pos));
        pos += 2;
        return v;
    }
    std::uint32_t read_be32() noexcept {
        const std::uint32_t v = load_be32(in.subspan(pos));
        pos += 4;
        return v;
    }
    double read_double() noexcept {
        const double v = std::bit_cast<double>(load_be64(in.subspan(pos)));
        pos += 8;
        return v;
    }

    /// Counts one decoded value against max_elements.
    bool count_element() noexcept {
        if (elements >= limits.max_elements) return fail(error::amf_too_many_elements);
        ++elements;
        return true;
    }
    /// Checks that `n` more values would still fit, before room is reserved for them.
    bool room_for(std::size_t n) noexcept {
        return n <= limits.max_elements - std::min(elements, limits.max_elements) ||
               fail(error::amf_too_many_elements);
    }
    /// Entering a container whose parents number `depth`.
    bool enter(std::size_t depth) noexcept { return depth < limits.max_depth || fail(error::amf_depth_exceeded); }
    bool charge_copy(std::size_t n) noexcept {
        if (n > copy_budget) return fail(error::amf_too_many_elements);
        copy_budget -= n;
        return true;
    }

    /// The `len` input bytes at `offset` as a string; `copy` marks bytes materialized before.
    bool make_string(std::size_t offset, std::size_t len, bool copy, std::string& out) {
        if ((copy || replaying > 0) && !charge_copy(len)) return false;
        const auto src = in.subspan(offset, len);
        out.resize(len);
        std::transform(src.begin(), src.end(), out.begin(), [](std::byte b) { return static_cast<char>(b); });
        return true;
    }
    /// Reads `len` bytes at the cursor as a string.
    bool read_string(std::size_t len, std::string& out) {
        if (!need(len) || !make_string(pos, len, false, out)) return false;
        pos += len;
        return true;
    }
};

/// Decodes one AMF3 value (marker included) with its own reference tables; in amf3_decoder.hpp.
inline bool amf3_decode_value(amf_decode_context& ctx, std::size_t depth, amf0::value& out);

/// AMF0 type markers.
enum class amf0_marker : std::uint8_t {
    number = 0x00,
    boolean = 0x01,
    string = 0x02,
    object = 0x03,
    movieclip = 0x04,
    null = 0x05,
    undefined = 0x06,
    reference = 0x07,
    ecma_array = 0x08,
    object_end = 0x09,
    strict_array = 0x0a,
    date = 0x0b,
    long_string = 0x0c,
    unsupported = 0x0d,
    recordset = 0x0e,
    xml_document = 0x0f,
    typed_object = 0x10,
    avmplus = 0x11,
};

/// AMF3 type markers.
enum class amf3_marker : std::uint8_t {
    undefined = 0x00,
    null = 0x01,
    false_ = 0x02,
    true_ = 0x03,
    integer = 0x04,
    double_ = 0x05,
    string = 0x06,
    xml_document = 0x07,
    date = 0x08,
    array = 0x09,
    object = 0x0a,
    xml = 0x0b,
    byte_array = 0x0c,
    vector_int = 0x0d,
    vector_uint = 0x0e,
    vector_double = 0x0f,
    vector_object = 0x10,
    dictionary = 0x11,
};

inline void amf0_put_marker(std::vector<std::byte>& out, amf0_marker m) { put_u8(out, static_cast<std::uint8_t>(m)); }

inline void amf0_put_short_text(std::vector<std::byte>& out, std::string_view text) {
    RTMPX_ASSERT(text.size() <= 0xffff);
    put_be16(out, static_cast<std::uint16_t>(text.size()));
    amf_put_text(out, text);
}

inline void amf0_encode_value(const amf0::value& v, std::vector<std::byte>& out);

inline void amf0_encode_properties(const amf0::properties& props, std::vector<std::byte>& out) {
    for (const amf0::property& p : props) {
        amf0_put_short_text(out, p.first);
        amf0_encode_value(p.second, out);
    }
    put_be16(out, 0);
    amf0_put_marker(out, amf0_marker::object_end);
}

inline void amf0_encode_value(const amf0::value& v, std::vector<std::byte>& out) {
    using amf0::kind;
    switch (v.type()) {
    case kind::number:
        amf0_put_marker(out, amf0_marker::number);
        amf_put_double(out, v.as_number());
        return;
    case kind::boolean:
        amf0_put_marker(out, amf0_marker::boolean);
        put_u8(out, v.as_bool() ? 1 : 0);
        return;
    case kind::string: {
        const std::string_view s = v.as_string();
        if (s.size() <= 0xffff) {
            amf0_put_marker(out, amf0_marker::string);
            amf0_put_short_text(out, s);
        } else {
            RTMPX_ASSERT(s.size() <= 0xffffffffu);
            amf0_put_marker(out, amf0_marker::long_string);
            put_be32(out, static_cast<std::uint32_t>(s.size()));
            amf_put_text(out, s);
        }
        return;
    }
    case kind::object:
        amf0_put_marker(out, amf0_marker::object);
        amf0_encode_properties(v.props(), out);
        return;
    case kind::null: amf0_put_marker(out, amf0_marker::null); return;
    case kind::undefined: amf0_put_marker(out, amf0_marker::undefined); return;
    case kind::unsupported: amf0_put_marker(out, amf0_marker::unsupported); return;
    case kind::ecma_array:
        RTMPX_ASSERT(v.size() <= 0xffffffffu);
        amf0_put_marker(out, amf0_marker::ecma_array);
        put_be32(out, static_cast<std::uint32_t>(v.size()));
        amf0_encode_properties(v.props(), out);
        return;
    case kind::strict_array:
        RTMPX_ASSERT(v.size() <= 0xffffffffu);
        amf0_put_marker(out, amf0_marker::strict_array);
        put_be32(out, static_cast<std::uint32_t>(v.size()));
        for (const amf0::value& e : v.elements()) amf0_encode_value(e, out);
        return;
    case kind::date:
        amf0_put_marker(out, amf0_marker::date);
        amf_put_double(out, v.date_ms());
        put_be16(out, static_cast<std::uint16_t>(v.date_timezone()));
        return;
    case kind::xml_document: {
        const std::string_view s = v.as_string();
        RTMPX_ASSERT(s.size() <= 0xffffffffu);
        amf0_put_marker(out, amf0_marker::xml_document);
        put_be32(out, static_cast<std::uint32_t>(s.size()));
        amf_put_text(out, s);
        return;
    }
    case kind::typed_object:
        amf0_put_marker(out, amf0_marker::typed_object);
        amf0_put_short_text(out, v.class_name());
        amf0_encode_properties(v.props(), out);
        return;
    case kind::byte_array:
    case kind::dictionary:
        amf0_put_marker(out, amf0_marker::avmplus);
        amf3_encode(v, out);
        return;
    }
}

/**
 * The AMF0 reader. Complex values (objects, ECMA arrays, strict arrays, typed objects) are
 * numbered in the order they begin; a reference re-reads the referenced bytes, which yields the
 * deep copy and charges every copied element against the limits again.
 */
class amf0_decoder {
public:
    explicit amf0_decoder(amf_decode_context& ctx) noexcept : ctx_(ctx) {}

    /// Decodes the value at the cursor; `depth` counts the containers around it.
    bool decode_value(std::size_t depth, amf0::value& out) {
        if (!ctx_.need(1)) return false;
        const std::size_t start = ctx_.pos;
        const auto marker = static_cast<amf0_marker>(ctx_.read_u8());
        if (marker == amf0_marker::reference) return decode_reference(depth, out);
        if (marker == amf0_marker::avmplus) return amf3_decode_value(ctx_, depth, out);
        if (!ctx_.count_element()) return false;
        switch (marker) {
        case amf0_marker::number:
            if (!ctx_.need(8)) return false;
            out = amf0::value(ctx_.read_double());
            return true;
        case amf0_marker::boolean:
            if (!ctx_.need(1)) return false;
            out = amf0::value(ctx_.read_u8() != 0);
            return true;
        case amf0_marker::string:
        case amf0_marker::long_string: {
            const std::size_t width = marker == amf0_marker::string ? 2 : 4;
            if (!ctx_.need(width)) return false;
            const std::size_t len = width == 2 ? ctx_.read_be16() : ctx_.read_be32();
            std::string s;
            if (!ctx_.read_string(len, s)) return false;
            out = amf0::value(std::move(s));
            return true;
        }
        case amf0_marker::xml_document: {
            if (!ctx_.need(4)) return false;
            std::string s;
            if (!ctx_.read_string(ctx_.read_be32(), s)) return false;
            out = amf0::value::xml_document(std::move(s));
            return true;
        }
        case amf0_marker::null: out = amf0::value::null(); return true;
        case amf0_marker::undefined: out = amf0::value::undefined(); return true;
        case amf0_marker::unsupported: out = amf0::value::unsupported(); return true;
        case amf0_marker::date: {
            if (!ctx_.need(10)) return false;
            const double ms = ctx_.read_double();
            out = amf0::value::date(ms, static_cast<std::int16_t>(ctx_.read_be16()));
            return true;
        }
        case amf0_marker::object:
        case amf0_marker::ecma_array:
        case amf0_marker::typed_object: {
            if (!ctx_.enter(depth)) return false;
            const std::size_t slot = begin_complex(start);
            std::string class_name;
            if (marker == amf0_marker::ecma_array) {
                if (!ctx_.need(4)) return false;
                ctx_.read_be32();  // a count hint only; the object end decides
            } else if (marker == amf0_marker::typed_object) {
                if (!ctx_.need(2) || !ctx_.read_string(ctx_.read_be16(), class_name)) return false;
            }
            amf0::properties props;
            if (!decode_properties(depth + 1, props)) return false;
            end_complex(slot);
            if (marker == amf0_marker::object) {
                out = amf0::value::object(std::move(props));
            } else if (marker == amf0_marker::ecma_array) {
                out = amf0::value::ecma_array(std::move(props));
            } else {
                out = amf0::value::typed_object(std::move(class_name), std::move(props));
            }
            return true;
        }
        case amf0_marker::strict_array: {
            if (!ctx_.enter(depth) || !ctx_.need(4)) return false;
            const std::size_t slot = begin_complex(start);
            const std::uint32_t count = ctx_.read_be32();
            // every element takes at least one byte: check before reserving
            if (count > ctx_.remaining()) return ctx_.fail(error::amf_truncated);
            if (!ctx_.room_for(count)) return false;
            std::vector<amf0::value> elements;
            elements.reserve(count);
            for (std::uint32_t i = 0; i < count; ++i) {
                amf0::value e;
                if (!decode_value(depth + 1, e)) return false;
                elements.push_back(std::move(e));
            }
            end_complex(slot);
            out = amf0::value::strict_array(std::move(elements));
            return true;
        }
        case amf0_marker::object_end: return ctx_.fail(error::amf_malformed);
        case amf0_marker::movieclip:
        case amf0_marker::recordset:
        default: return ctx_.fail(error::amf_unknown_marker);
        }
    }

private:
    struct complex_entry {
        std::size_t offset;  ///< of the marker
        bool complete;
    };
    static constexpr std::size_t no_slot = std::numeric_limits<std::size_t>::max();

    std::size_t begin_complex(std::size_t offset) {
        if (replay_ > 0) return no_slot;  // a copy is not a new table entry
        table_.push_back({offset, false});
        return table_.size() - 1;
    }
    void end_complex(std::size_t slot) noexcept {
        if (slot != no_slot) table_[slot].complete = true;
    }

    /// Properties up to the object end: an empty key followed by the 0x09 marker.
    bool decode_properties(std::size_t depth, amf0::properties& props) {
        for (;;) {
            if (!ctx_.need(2)) return false;
            const std::uint16_t len = ctx_.read_be16();
            if (len == 0) {
                if (!ctx_.need(1)) return false;
                if (ctx_.peek_u8() == static_cast<std::uint8_t>(amf0_marker::object_end)) {
                    ++ctx_.pos;
                    return true;
                }
            }
            std::string key;
            if (!ctx_.read_string(len, key)) return false;
            amf0::value v;
            if (!decode_value(depth, v)) return false;
            props.emplace_back(std::move(key), std::move(v));
        }
    }

    bool decode_reference(std::size_t depth, amf0::value& out) {
        if (!ctx_.need(2)) return false;
        const std::uint16_t index = ctx_.read_be16();
        if (index >= table_.size() || !table_[index].complete) return ctx_.fail(error::amf_bad_reference);
        const std::size_t resume = ctx_.pos;
        ctx_.pos = table_[index].offset;
        ++replay_;
        ++ctx_.replaying;
        const bool ok = decode_value(depth, out);
        --replay_;
        --ctx_.replaying;
        ctx_.pos = resume;
        return ok;
    }

    amf_decode_context& ctx_;
    std::vector<complex_entry> table_;
    std::size_t replay_ = 0;
};

/// Appends the JSON-like text of `s` in double quotes.
inline void amf_format_quoted(std::string& out, std::string_view s) {
    out += '"';
    for (const char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

inline void amf_format_key(std::string& out, std::string_view key) {
    const bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
    });
    if (plain) {
        out += key;
    } else {
        amf_format_quoted(out, key);
    }
}

inline void amf_format_value(std::string& out, const amf0::value& v);

inline void amf_format_properties(std::string& out, const amf0::properties& props) {
    out += '{';
    bool first = true;
    for (const amf0::property& p : props) {
        if (!first) out += ", ";
        first = false;
        amf_format_key(out, p.first);
        out += ": ";
        amf_format_value(out, p.second);
    }
    out += '}';
}

inline void amf_format_value(std::string& out, const amf0::value& v) {
    using amf0::kind;
    switch (v.type()) {
    case kind::number: fmt::format_to(std::back_inserter(out), "{}", v.as_number()); return;
    case kind::boolean: out += v.as_bool() ? "true" : "false"; return;
    case kind::string: amf_format_quoted(out, v.as_string()); return;
    case kind::object: amf_format_properties(out, v.props()); return;
    case kind::null: out += "null"; return;
    case kind::undefined: out += "undefined"; return;
    case kind::unsupported: out += "unsupported"; return;
    case kind::ecma_array:
        out += "ecma";
        amf_format_properties(out, v.props());
        return;
    case kind::strict_array: {
        out += '[';
        bool first = true;
        for (const amf0::value& e : v.elements()) {
            if (!first) out += ", ";
            first = false;
            amf_format_value(out, e);
        }
        out += ']';
        return;
    }
    case kind::date:
        if (v.date_timezone() == 0) {
            fmt::format_to(std::back_inserter(out), "date({})", v.date_ms());
        } else {
            fmt::format_to(std::back_inserter(out), "date({}, tz {})", v.date_ms(), v.date_timezone());
        }
        return;
    case kind::xml_document:
        out += "xml(";
        amf_format_quoted(out, v.as_string());
        out += ')';
        return;
    case kind::typed_object:
        out += v.class_name();
        amf_format_properties(out, v.props());
        return;
    case kind::byte_array: fmt::format_to(std::back_inserter(out), "bytes({})", v.bytes().size()); return;
    case kind::dictionary: {
        out += "dict{";
        bool first = true;
        for (const auto& [key, val] : v.entries()) {
            if (!first) out += ", ";
            first = false;
            amf_format_value(out, key);
            out += " => ";
            amf_format_value(out, val);
        }
        out += '}';
        return;
    }
    }
}

} // namespace detail

namespace amf0 {

/// Appends the AMF0 encoding of `v`. Strings over 65535 bytes become long strings; byte arrays
/// and dictionaries (AMF3-only kinds) are written as an AVM+ switch followed by their AMF3 form.
/// Preconditions: keys and class names up to 65535 bytes, other lengths and counts below 2^32.
inline void encode(const value& v, std::vector<std::byte>& out) { detail::amf0_encode_value(v, out); }

inline std::vector<std::byte> encode(const value& v) {
    std::vector<std::byte> out;
    detail::amf0_encode_value(v, out);
    return out;
}

/**
 * Decodes one value from the front of `in` into `out`. Returns the bytes consumed; on failure
 * returns 0, sets `ec` and leaves `out` alone.
 */
inline std::size_t decode(std::span<const std::byte> in, value& out, std::error_code& ec,
                          const amf_limits& limits = {}) {
    detail::amf_decode_context ctx(in, limits);
    detail::amf0_decoder decoder(ctx);
    value v;
    if (!decoder.decode_value(0, v)) {
        ec = ctx.ec;
        return 0;
    }
    ec.clear();
    out = std::move(v);
    return ctx.pos;
}

/**
 * Decodes values until `in` ends (a command or data message body). `out` is cleared first; on
 * failure it keeps the values decoded before the bad one and `ec` says why. The limits and the
 * reference table span the whole call.
 */
inline bool decode_all(std::span<const std::byte> in, std::vector<value>& out, std::error_code& ec,
                       const amf_limits& limits = {}) {
    out.clear();
    detail::amf_decode_context ctx(in, limits);
    detail::amf0_decoder decoder(ctx);
    while (ctx.pos < in.size()) {
        value v;
        if (!decoder.decode_value(0, v)) {
            ec = ctx.ec;
            return false;
        }
        out.push_back(std::move(v));
    }
    ec.clear();
    return true;
}

/// Compact JSON-like text: `{app: "live", n: 3}`, `ecma{...}`, `[1, 2]`, `date(ms)`, `bytes(N)`...
inline std::string to_string(const value& v) {
    std::string out;
    detail::amf_format_value(out, v);
    return out;
}

} // namespace amf0
RTMPX_NAMESPACE_END

template <>
struct fmt::formatter<rtmpx::amf0::value> {
    constexpr auto parse(fmt::format_parse_context& ctx) -> decltype(ctx.begin()) { return ctx.begin(); }
    template <typename FormatContext>
    auto format(const rtmpx::amf0::value& v, FormatContext& ctx) const -> decltype(ctx.out()) {
        const std::string text = rtmpx::amf0::to_string(v);
        return std::copy(text.begin(), text.end(), ctx.out());
    }
};

// The AMF3 halves need the complete amf0::value; each also includes this header itself.
#include <rtmpx/detail/amf3_decoder.hpp>
#include <rtmpx/detail/amf3_encoder.hpp>

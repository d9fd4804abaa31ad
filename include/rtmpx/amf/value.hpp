// SPDX-License-Identifier: MIT
// The AMF value type: what AMF0 and AMF3 data decode into and encode from.
#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <rtmpx/config.hpp>

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
RTMPX_NAMESPACE_END

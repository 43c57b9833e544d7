// JSON reading for tests; see json_doc.hpp.
#include "testkit/json_doc.hpp"

#include <simdjson.h>

namespace tether::testkit {

struct json_doc::impl {
    simdjson::dom::parser parser;
    simdjson::dom::element root;

    std::optional<simdjson::dom::element> at(std::string_view pointer) const {
        if (pointer.empty()) {
            return root;
        }
        simdjson::dom::element e;
        if (root.at_pointer(pointer).get(e) != simdjson::SUCCESS) {
            return std::nullopt;
        }
        return e;
    }
};

json_doc json_doc::parse(std::string_view text) {
    json_doc doc;
    doc.text_ = std::string(text);
    auto im = std::make_shared<impl>();
    // The DOM parser copies the input into its own padded buffer.
    if (im->parser.parse(doc.text_).get(im->root) == simdjson::SUCCESS) {
        doc.ok_ = true;
        doc.impl_ = std::move(im);
    }
    return doc;
}

bool json_doc::has(std::string_view pointer) const { return ok_ && impl_->at(pointer).has_value(); }

std::optional<std::string> json_doc::string(std::string_view pointer) const {
    auto e = ok_ ? impl_->at(pointer) : std::nullopt;
    std::string_view s;
    if (!e || e->get_string().get(s) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    return std::string(s);
}

std::optional<std::int64_t> json_doc::integer(std::string_view pointer) const {
    auto e = ok_ ? impl_->at(pointer) : std::nullopt;
    if (!e) {
        return std::nullopt;
    }
    std::int64_t i = 0;
    if (e->get_int64().get(i) == simdjson::SUCCESS) {
        return i;
    }
    std::uint64_t u = 0;
    if (e->get_uint64().get(u) == simdjson::SUCCESS) {
        return static_cast<std::int64_t>(u);
    }
    return std::nullopt;
}

std::optional<double> json_doc::number(std::string_view pointer) const {
    auto e = ok_ ? impl_->at(pointer) : std::nullopt;
    if (!e) {
        return std::nullopt;
    }
    double d = 0;
    if (e->get_double().get(d) == simdjson::SUCCESS) {
        return d;
    }
    if (auto i = integer(pointer)) {
        return static_cast<double>(*i);
    }
    return std::nullopt;
}

std::optional<bool> json_doc::boolean(std::string_view pointer) const {
    auto e = ok_ ? impl_->at(pointer) : std::nullopt;
    bool b = false;
    if (!e || e->get_bool().get(b) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    return b;
}

std::optional<std::size_t> json_doc::array_size(std::string_view pointer) const {
    auto e = ok_ ? impl_->at(pointer) : std::nullopt;
    simdjson::dom::array a;
    if (!e || e->get_array().get(a) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    return a.size();
}

} // namespace tether::testkit

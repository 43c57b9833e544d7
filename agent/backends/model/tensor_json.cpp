#include "backends/model/tensor_json.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <cmath>
#include <iterator>
#include <limits>
#include <stdexcept>

namespace tether::agent {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// "[1][0]" for the element at index 1, then 0; "the top level" for the root.
std::string place(const std::vector<std::size_t>& path) {
    if (path.empty()) return "the top level";
    std::string s;
    for (const std::size_t i : path)
        s += fmt::format("[{}]", i);
    return s;
}

const char* type_name(element_type t) {
    switch (t) {
    case element_type::ARRAY:
        return "an array";
    case element_type::OBJECT:
        return "an object";
    case element_type::STRING:
        return "a string";
    case element_type::BOOL:
        return "a boolean";
    case element_type::NULL_VALUE:
        return "null";
    default:
        return "a number";
    }
}

bool is_number(element_type t) {
    return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

// Integers too: simdjson converts INT64 and UINT64 elements to double.
double number_value(const element& e) {
    double v = 0.0;
    if (e.get_double().get(v)) return std::nan("");
    return v;
}

simdjson::dom::array as_array(const element& e) {
    return e.get_array().value_unsafe(); // only called on elements of type ARRAY
}

// Walks the document against the shape read from its first elements; the
// first mismatch becomes the error.
class tensor_reader {
  public:
    explicit tensor_reader(tensor_value& out) : out_(out) {}

    std::string read(const element& e) { return visit(e, 0); }

  private:
    std::string visit(const element& e, std::size_t depth) {
        const element_type type = e.type();
        if (depth == out_.shape.size()) {
            if (!is_number(type)) return fmt::format("expected a number at {}, got {}", place(path_), type_name(type));
            const double v = number_value(e);
            if (!std::isfinite(v)) return fmt::format("the number at {} is not finite", place(path_));
            out_.values.push_back(v);
            return {};
        }
        if (type != element_type::ARRAY)
            return fmt::format("expected an array at {}, got {}", place(path_), type_name(type));
        const simdjson::dom::array array = as_array(e);
        const std::size_t size = array.size();
        const auto expected = static_cast<std::size_t>(out_.shape[depth]);
        if (size != expected)
            return fmt::format("ragged array at {}: {} elements, expected {}", place(path_), size, expected);
        path_.push_back(0);
        for (const element child : array) {
            if (std::string error = visit(child, depth + 1); !error.empty()) return error;
            ++path_.back();
        }
        path_.pop_back();
        return {};
    }

    tensor_value& out_;
    std::vector<std::size_t> path_;
};

tensor_parse_result refuse(std::string message) {
    return {std::nullopt, std::move(message)};
}

} // namespace

tensor_parse_result parse_tensor_json(std::string_view text, std::uint64_t max_elements) {
    simdjson::dom::parser parser;
    const simdjson::padded_string padded(text);
    element root;
    if (const auto error = parser.parse(padded).get(root))
        return refuse(fmt::format("not a JSON array of numbers: {}", simdjson::error_message(error)));

    // The shape is read down the first elements; the walk then checks every
    // other array against it.
    tensor_value t;
    std::uint64_t elements = 1;
    std::vector<std::size_t> path;
    element e = root;
    while (e.type() == element_type::ARRAY) {
        if (t.shape.size() == max_tensor_depth)
            return refuse(fmt::format("arrays nested deeper than {} levels", max_tensor_depth));
        const simdjson::dom::array array = as_array(e);
        const std::size_t size = array.size();
        if (size == 0) return refuse(fmt::format("empty array at {}", place(path)));
        t.shape.push_back(static_cast<std::int64_t>(size));
        // Checked before multiplying, so the product cannot overflow.
        if (size > max_elements / elements)
            return refuse(fmt::format("too many elements (the limit is {})", max_elements));
        elements *= size;
        e = *array.begin();
        path.push_back(0);
    }
    if (elements > max_elements) return refuse(fmt::format("too many elements (the limit is {})", max_elements));

    t.values.reserve(static_cast<std::size_t>(elements));
    if (std::string error = tensor_reader(t).read(root); !error.empty()) return refuse(std::move(error));
    return {std::move(t), {}};
}

std::string shape_to_string(const std::vector<std::int64_t>& shape) {
    return fmt::format("[{}]", fmt::join(shape, ","));
}

std::string check_shape(const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& declared) {
    bool ok = shape.size() == declared.size();
    for (std::size_t i = 0; ok && i < shape.size(); ++i)
        ok = declared[i] == -1 || declared[i] == shape[i];
    if (ok) return {};
    return fmt::format("shape {} does not match declared {}", shape_to_string(shape), shape_to_string(declared));
}

namespace {

void write_number(std::string& out, double v, bool integers) {
    if (!std::isfinite(v)) {
        out += "null";
    } else if (integers) {
        // Clamped: an int64 tensor cannot hold more, and the cast would be undefined.
        const double r = std::round(v);
        if (r >= 0x1.0p63)
            fmt::format_to(std::back_inserter(out), "{}", std::numeric_limits<std::int64_t>::max());
        else if (r < -0x1.0p63)
            fmt::format_to(std::back_inserter(out), "{}", std::numeric_limits<std::int64_t>::min());
        else
            fmt::format_to(std::back_inserter(out), "{}", static_cast<std::int64_t>(r));
    } else {
        fmt::format_to(std::back_inserter(out), "{}", v);
    }
}

void write_level(std::string& out, const tensor_value& t, std::size_t depth, std::size_t& next, bool integers) {
    if (depth == t.shape.size()) {
        write_number(out, t.values[next++], integers);
        return;
    }
    out += '[';
    for (std::int64_t i = 0; i < t.shape[depth]; ++i) {
        if (i > 0) out += ',';
        write_level(out, t, depth + 1, next, integers);
    }
    out += ']';
}

} // namespace

std::string tensor_to_json(const tensor_value& t, bool integers) {
    std::size_t count = 1;
    for (const std::int64_t d : t.shape) {
        if (d < 0) throw std::invalid_argument("tensor_to_json: negative dimension in " + shape_to_string(t.shape));
        count *= static_cast<std::size_t>(d);
    }
    if (count != t.values.size())
        throw std::invalid_argument(fmt::format("tensor_to_json: shape {} needs {} values, got {}",
                                                shape_to_string(t.shape), count, t.values.size()));
    std::string out;
    out.reserve(t.values.size() * 8 + 2);
    std::size_t next = 0;
    write_level(out, t, 0, next, integers);
    return out;
}

} // namespace tether::agent

#pragma once
// The `tensor` task's JSON: nested arrays of numbers in, nested arrays out.
// Input comes from the network, so parsing is bounded (depth, element count)
// and refuses with a message instead of throwing. No torch here.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent {

struct tensor_value {
    std::vector<std::int64_t> shape; // {} for a 0-d tensor (one value)
    std::vector<double> values;      // row-major
};

struct tensor_parse_result {
    std::optional<tensor_value> tensor;
    std::string error; // set when tensor is empty
};

inline constexpr std::size_t max_tensor_depth = 8;

// A nested JSON array of numbers, at most max_tensor_depth deep and at most
// max_elements numbers; a bare number is a 0-d tensor. Refuses invalid JSON,
// ragged arrays ("ragged array at [1]: 3 elements, expected 2"), non-numbers,
// empty arrays, non-finite values and too many elements.
tensor_parse_result parse_tensor_json(std::string_view text, std::uint64_t max_elements);

// "" when `shape` matches `declared` (-1 there matches any size), else a
// message such as "shape [2,3] does not match declared [-1,4]".
std::string check_shape(const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& declared);

// "[2,3]": how shapes are written in messages and results.
std::string shape_to_string(const std::vector<std::int64_t>& shape);

// Nested JSON arrays, numbers in shortest round-trip form (integers rounded
// when `integers`, for int64 tensors). JSON has no NaN or infinity: those are
// written as null. Throws std::invalid_argument when the values do not fill the
// shape (a programming error, not bad input).
std::string tensor_to_json(const tensor_value& t, bool integers = false);

} // namespace tether::agent

// The tensor task's JSON arrays: parsing with every refusal, shape checks
// against the sidecar, and writing back.

#include "backends/model/tensor_json.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>

using namespace tether::agent;

namespace {

std::string refusal(std::string_view text, std::uint64_t max_elements = 1000) {
    const auto r = parse_tensor_json(text, max_elements);
    CHECK_FALSE(r.tensor);
    return r.error;
}

tensor_value parsed(std::string_view text, std::uint64_t max_elements = 1000) {
    auto r = parse_tensor_json(text, max_elements);
    INFO(r.error);
    REQUIRE(r.tensor);
    CHECK(r.error.empty());
    return *r.tensor;
}

} // namespace

TEST_CASE("a nested array becomes a row-major tensor with its shape", "[tensor]") {
    const auto m = parsed("[[1, 2, 3], [4, 5.5, -6e2]]");
    CHECK(m.shape == std::vector<std::int64_t>{2, 3});
    CHECK(m.values == std::vector<double>{1, 2, 3, 4, 5.5, -600});

    const auto v = parsed(" [0.25, -1, 18446744073709551615] ");
    CHECK(v.shape == std::vector<std::int64_t>{3});
    CHECK(v.values == std::vector<double>{0.25, -1, 18446744073709551615.0});

    const auto cube = parsed("[[[1],[2]],[[3],[4]],[[5],[6]]]");
    CHECK(cube.shape == std::vector<std::int64_t>{3, 2, 1});
    CHECK(cube.values == std::vector<double>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("a bare number is a 0-d tensor", "[tensor]") {
    const auto s = parsed("3.5");
    CHECK(s.shape.empty());
    CHECK(s.values == std::vector<double>{3.5});
}

TEST_CASE("arrays nested eight deep are accepted and nine deep refused", "[tensor]") {
    CHECK(parsed("[[[[[[[[1]]]]]]]]").shape == std::vector<std::int64_t>(8, 1));
    CHECK(refusal("[[[[[[[[[1]]]]]]]]]") == "arrays nested deeper than 8 levels");
}

TEST_CASE("ragged arrays are refused with where and how", "[tensor]") {
    CHECK(refusal("[[1,2],[3,4,5]]") == "ragged array at [1]: 3 elements, expected 2");
    CHECK(refusal("[[[1,2],[3,4]],[[5,6],[7]]]") == "ragged array at [1][1]: 1 elements, expected 2");
    CHECK(refusal("[[1],2]") == "expected an array at [1], got a number");
    CHECK(refusal("[1,[2]]") == "expected a number at [1], got an array");
}

TEST_CASE("anything but numbers is refused", "[tensor]") {
    CHECK(refusal("[1,\"2\"]") == "expected a number at [1], got a string");
    CHECK(refusal("[[true]]") == "expected a number at [0][0], got a boolean");
    CHECK(refusal("[null]") == "expected a number at [0], got null");
    CHECK(refusal("{\"a\": 1}") == "expected a number at the top level, got an object");
    CHECK(refusal("\"12\"") == "expected a number at the top level, got a string");
}

TEST_CASE("empty arrays are refused", "[tensor]") {
    CHECK(refusal("[]") == "empty array at the top level");
    CHECK(refusal("[[]]") == "empty array at [0]");
    CHECK(refusal("[[1],[]]") == "ragged array at [1]: 0 elements, expected 1");
}

TEST_CASE("text that is not JSON, and numbers past a double, are refused", "[tensor]") {
    for (const char* text : {"", "   ", "[1,", "[1,]", "[1] [2]", "NaN", "[Infinity]", "[1e400]", "-"}) {
        INFO(text);
        CHECK_THAT(refusal(text), Catch::StartsWith("not a JSON array of numbers: "));
    }
}

TEST_CASE("more numbers than max_elements are refused before they are read", "[tensor]") {
    CHECK(parsed("[[1,2],[3,4]]", 4).values.size() == 4);
    CHECK(refusal("[[1,2],[3,4]]", 3) == "too many elements (the limit is 3)");
    CHECK(refusal("7", 0) == "too many elements (the limit is 0)");
    // The count comes from the shape, so a huge claim is refused without walking it.
    CHECK(refusal("[[1,2,3,4,5,6,7,8,9,10],[1]]", 9) == "too many elements (the limit is 9)");
}

TEST_CASE("a shape matches a declared shape where -1 takes any size", "[tensor]") {
    CHECK(check_shape({2, 4}, {-1, 4}).empty());
    CHECK(check_shape({7, 4}, {-1, 4}).empty());
    CHECK(check_shape({3, 2}, {3, 2}).empty());
    CHECK(check_shape({}, {}).empty());
    CHECK(check_shape({5, 9}, {-1, -1}).empty());
    CHECK(check_shape({2, 3}, {-1, 4}) == "shape [2,3] does not match declared [-1,4]");
    CHECK(check_shape({4}, {-1, 4}) == "shape [4] does not match declared [-1,4]");
    CHECK(check_shape({1, 2, 4}, {-1, 4}) == "shape [1,2,4] does not match declared [-1,4]");
    CHECK(check_shape({}, {1}) == "shape [] does not match declared [1]");
}

TEST_CASE("a tensor is written as nested arrays in shortest round-trip form", "[tensor]") {
    CHECK(tensor_to_json({{2, 2}, {1, 2.5, -3, 0.1}}) == "[[1,2.5],[-3,0.1]]");
    CHECK(tensor_to_json({{}, {3.5}}) == "3.5");
    CHECK(tensor_to_json({{3}, {1e20, 1e-7, -0.0}}) == "[1e+20,1e-07,-0]");
    CHECK(tensor_to_json({{2, 0}, {}}) == "[[],[]]");
    CHECK(tensor_to_json({{1, 2, 1}, {4, 5}}) == "[[[4],[5]]]");
}

TEST_CASE("int64 tensors are written as integers, rounded and clamped", "[tensor]") {
    CHECK(tensor_to_json({{4}, {1.0, 2.4, -3.6, 1e30}}, true) == "[1,2,-4,9223372036854775807]");
}

TEST_CASE("values JSON cannot hold are written as null", "[tensor]") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(tensor_to_json({{3}, {nan, inf, 1}}) == "[null,null,1]");
    CHECK(tensor_to_json({{1}, {-inf}}, true) == "[null]");
}

TEST_CASE("values that do not fill the shape are a programming error", "[tensor]") {
    CHECK_THROWS_AS(tensor_to_json({{2, 3}, {1, 2}}), std::invalid_argument);
    CHECK_THROWS_AS(tensor_to_json({{-1}, {}}), std::invalid_argument);
}

TEST_CASE("parsing what was written gives the same tensor back, and writing what was parsed the same text",
          "[tensor]") {
    std::mt19937_64 rng(99);
    std::uniform_real_distribution<double> d(-1e6, 1e6);
    tensor_value t{{3, 4, 5}, {}};
    for (int i = 0; i < 60; ++i)
        t.values.push_back(i % 7 == 0 ? std::ldexp(d(rng), -40) : d(rng));
    const auto back = parsed(tensor_to_json(t));
    CHECK(back.shape == t.shape);
    CHECK(back.values == t.values); // bit-exact: the writer's form round-trips

    for (const char* text : {"[[1,2.5],[-3,0.1]]", "[1e+20,1e-07]", "42", "[[[-1]]]"}) {
        INFO(text);
        CHECK(tensor_to_json(parsed(text)) == text);
    }
}

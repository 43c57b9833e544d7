// json_view's widening of integers simdjson cannot hold (transformers writes
// model_max_length as 1e30 in integer form): only whole integer literals are
// widened; the digits of a long fraction or an exponent are left alone.
#include "text/json_view.hpp"

#include <catch2/catch.hpp>

using tether::agent::text::widen_big_integers;

TEST_CASE("widen_big_integers widens only integer literals past 64 bits", "[text][json]") {
    std::string big = R"({"model_max_length": 1000000000000000019884624838656, "n": 12})";
    widen_big_integers(big);
    CHECK(big == R"({"model_max_length": 1000000000000000019884624838656.0, "n": 12})");

    // A float with twenty fraction digits (preprocessor_config.json's mel filters).
    std::string fraction = R"([0.00123456789012345678901, -0.0, 1.5e-0000000000000000000005, "123456789012345678901"])";
    const std::string before = fraction;
    widen_big_integers(fraction);
    CHECK(fraction == before);

    std::string negative = "[-123456789012345678901]";
    widen_big_integers(negative);
    CHECK(negative == "[-123456789012345678901.0]");
}

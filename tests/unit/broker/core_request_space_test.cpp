// Names of request states and space features, and valid space names.
#include "core/request.hpp"
#include "core/space.hpp"

#include <catch2/catch.hpp>

using namespace tether::broker;

TEST_CASE("every request state round-trips through its name", "[core][names]") {
    for (auto s :
         {request_state::queued, request_state::dispatched, request_state::processing, request_state::streaming,
          request_state::completed, request_state::failed, request_state::timeout, request_state::cancelled}) {
        CHECK(parse_request_state(to_string(s)) == s);
    }
    CHECK(to_string(request_state::timeout) == "timeout");
    CHECK_FALSE(parse_request_state("done").has_value());
    CHECK_FALSE(parse_request_state("").has_value());
}

TEST_CASE("feature lists parse into bits and print back in a fixed order", "[core][names]") {
    std::uint32_t bits = 0;
    std::string error;
    REQUIRE(parse_features("audio, prompt", bits, error));
    CHECK(bits == (feature_prompt | feature_audio));
    CHECK(features_to_string(bits) == "prompt,audio");
    REQUIRE(parse_features("prompt,audio,video,file", bits, error));
    CHECK(features_to_string(bits) == "prompt,audio,video,file");
}

TEST_CASE("an unknown or empty feature list is refused with a reason", "[core][names]") {
    std::uint32_t bits = feature_prompt;
    std::string error;
    CHECK_FALSE(parse_features("prompt,smell", bits, error));
    CHECK(error.find("smell") != std::string::npos);
    CHECK(bits == feature_prompt);
    CHECK_FALSE(parse_features("", bits, error));
}

TEST_CASE("space names are 1 to 64 of letters, digits, underscore, dot and dash", "[core][names]") {
    CHECK(valid_space_name("MySpace"));
    CHECK(valid_space_name("a.b-c_1"));
    CHECK(valid_space_name(std::string(64, 'x')));
    CHECK_FALSE(valid_space_name(""));
    CHECK_FALSE(valid_space_name(std::string(65, 'x')));
    CHECK_FALSE(valid_space_name("has space"));
    CHECK_FALSE(valid_space_name("slash/"));
    CHECK_FALSE(valid_space_name("ünï"));
}

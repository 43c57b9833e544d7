#include "tether/shared/base64.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace std::string_literals;

TEST_CASE("base64 matches the RFC 4648 test vectors both ways", "[base64]") {
    const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                           {"f", "Zg=="},
                                                           {"fo", "Zm8="},
                                                           {"foo", "Zm9v"},
                                                           {"foob", "Zm9vYg=="},
                                                           {"fooba", "Zm9vYmE="},
                                                           {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : vectors) {
        CHECK(tether::base64_encode(plain) == encoded);
        CHECK(tether::base64_decode(encoded) == std::optional<std::string>(plain));
    }
}

TEST_CASE("base64 round-trips every byte value", "[base64]") {
    std::string all;
    for (int i = 0; i < 256; ++i)
        all.push_back(static_cast<char>(i));
    for (std::size_t n = 0; n < 6; ++n) {
        const auto s = all.substr(n);
        CHECK(tether::base64_decode(tether::base64_encode(s)) == std::optional<std::string>(s));
    }
    CHECK(tether::base64_encode("\xFB\xFF"s) == "+/8=");
}

TEST_CASE("base64 decode rejects anything but padded standard base64", "[base64]") {
    for (const char* bad : {"Zg", "Zg=", "Zm9", "Z===", "====", "Zg==Zg==", "Zm=v", "Zm9v\n", "Zm 9v", "Zm9-", "Zm9_",
                            "Zh==", "Zm9=", "*m9v"}) {
        INFO(bad);
        CHECK_FALSE(tether::base64_decode(bad));
    }
}

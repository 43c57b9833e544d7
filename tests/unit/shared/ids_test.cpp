#include "tether/shared/ids.hpp"

#include <catch2/catch.hpp>

#include <set>

using tether::uuid;

TEST_CASE("a uuid survives to_string and parse", "[uuid]") {
    for (int i = 0; i < 50; ++i) {
        const auto id = uuid::random();
        const auto text = id.to_string();
        REQUIRE(text.size() == 36);
        const auto back = uuid::parse(text);
        REQUIRE(back);
        CHECK(*back == id);
    }
}

TEST_CASE("random uuids carry version 4 and the RFC 4122 variant and differ", "[uuid]") {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        const auto id = uuid::random();
        CHECK((id.bytes[6] >> 4) == 4);
        CHECK((id.bytes[8] & 0xC0) == 0x80);
        const auto text = id.to_string();
        CHECK(text[14] == '4');
        CHECK(std::string("89ab").find(text[19]) != std::string::npos);
        seen.insert(text);
        CHECK_FALSE(id.is_nil());
    }
    CHECK(seen.size() == 100);
}

TEST_CASE("parse reads the canonical form in either case into the right bytes", "[uuid]") {
    const auto id = uuid::parse("0B7C3C1E-8d4f-4A57-9a53-5F2D6F3B9E10");
    REQUIRE(id);
    CHECK(id->bytes[0] == 0x0B);
    CHECK(id->bytes[15] == 0x10);
    CHECK(id->to_string() == "0b7c3c1e-8d4f-4a57-9a53-5f2d6f3b9e10");
    CHECK(uuid::parse("00000000-0000-0000-0000-000000000000")->is_nil());
}

TEST_CASE("parse rejects anything but the 8-4-4-4-12 hex form", "[uuid]") {
    for (const char* bad : {"", "0b7c3c1e8d4f4a579a535f2d6f3b9e10", "0b7c3c1e-8d4f-4a57-9a53-5f2d6f3b9e1",
                            "0b7c3c1e-8d4f-4a57-9a53-5f2d6f3b9e100", "0b7c3c1e-8d4f-4a57-9a53_5f2d6f3b9e10",
                            "0b7c3c1g-8d4f-4a57-9a53-5f2d6f3b9e10", "{0b7c3c1e-8d4f-4a57-9a53-5f2d6f3b9e1}",
                            "0b7c3c1e-8d4f-4a57-9a5-35f2d6f3b9e10", " b7c3c1e-8d4f-4a57-9a53-5f2d6f3b9e10"}) {
        INFO(bad);
        CHECK_FALSE(uuid::parse(bad));
    }
}

TEST_CASE("uuids order and hash by value", "[uuid]") {
    const auto a = *uuid::parse("00000000-0000-0000-0000-000000000001");
    const auto b = *uuid::parse("00000000-0000-0000-0000-000000000002");
    CHECK(a < b);
    CHECK(tether::uuid_hash{}(a) == tether::uuid_hash{}(*uuid::parse(a.to_string())));
}

TEST_CASE("random_hex gives 2n lower-case hex digits", "[uuid]") {
    const auto h = tether::random_hex(16);
    CHECK(h.size() == 32);
    CHECK(h.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(tether::random_hex(16) != h);
    CHECK(tether::random_hex(0).empty());
}

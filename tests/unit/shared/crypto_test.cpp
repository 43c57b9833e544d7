#include "tether/shared/crypto.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace tether;

TEST_CASE("sha256 matches the FIPS 180-2 vectors", "[crypto]") {
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("incremental sha256 equals one-shot for any split", "[crypto]") {
    std::string data;
    for (int i = 0; i < 1000; ++i)
        data.push_back(static_cast<char>(i * 7));
    const auto whole = sha256_hex(data);
    for (std::size_t split : {0UL, 1UL, 63UL, 64UL, 65UL, 999UL, 1000UL}) {
        sha256 h;
        h.update(std::string_view(data).substr(0, split));
        h.update(std::string_view(data).substr(split));
        CHECK(h.hex_digest() == whole);
    }
    sha256 moved_from;
    moved_from.update("ab");
    sha256 moved = std::move(moved_from);
    moved.update("c");
    CHECK(moved.hex_digest() == sha256_hex("abc"));
}

TEST_CASE("a password verifies against its own hash only", "[crypto]") {
    const auto stored = hash_password("correct horse", 1000);
    CHECK(stored.rfind("pbkdf2-sha256$1000$", 0) == 0);
    CHECK(verify_password("correct horse", stored));
    CHECK_FALSE(verify_password("correct horsf", stored));
    CHECK_FALSE(verify_password("", stored));
    CHECK(hash_password("correct horse", 1000) != stored); // salted
}

TEST_CASE("a tampered or malformed stored hash never verifies", "[crypto]") {
    const auto stored = hash_password("pw", 1000);
    std::string flipped = stored;
    flipped[flipped.size() - 2] = flipped[flipped.size() - 2] == 'A' ? 'B' : 'A';
    CHECK_FALSE(verify_password("pw", flipped));
    std::string other_iterations = stored;
    other_iterations.replace(other_iterations.find("$1000$"), 6, "$1001$");
    CHECK_FALSE(verify_password("pw", other_iterations));
    for (const char* bad :
         {"", "pw", "pbkdf2-sha256$", "pbkdf2-sha256$1000$", "pbkdf2-sha256$0$AAAA$AAAA", "pbkdf2-sha256$x$AAAA$AAAA",
          "pbkdf2-sha256$1000$!!!!$AAAA", "md5$1$AAAA$AAAA", "pbkdf2-sha256$99999999999$AAAA$AAAA"}) {
        INFO(bad);
        CHECK_FALSE(verify_password("pw", bad));
    }
}

TEST_CASE("constant_time_equal compares content and length", "[crypto]") {
    CHECK(constant_time_equal("", ""));
    CHECK(constant_time_equal("abc", "abc"));
    CHECK_FALSE(constant_time_equal("abc", "abd"));
    CHECK_FALSE(constant_time_equal("abc", "ab"));
    CHECK_FALSE(constant_time_equal("", "a"));
}

TEST_CASE("hash_token is the sha256 of the token", "[crypto]") {
    CHECK(hash_token("abc") == sha256_hex("abc"));
    CHECK(hash_token("abc") != hash_token("abd"));
}

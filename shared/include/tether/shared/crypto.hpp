#pragma once
// Hashing for secrets and files (OpenSSL): SHA-256, constant-time compare,
// slow password hashing (PBKDF2-HMAC-SHA256) and token hashing.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tether {

// Incremental SHA-256, for files that arrive in chunks.
class sha256 {
public:
    sha256();
    ~sha256();
    sha256(sha256&&) noexcept;
    sha256& operator=(sha256&&) noexcept;
    void update(std::string_view bytes);
    // Lower-case hex digest; the object is spent afterwards.
    std::string hex_digest();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

std::string sha256_hex(std::string_view bytes);

// Compares in time that depends only on the lengths, never on where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// "pbkdf2-sha256$ITER$SALT_B64$HASH_B64". Slow on purpose.
constexpr std::uint32_t default_password_iterations = 120'000;
std::string hash_password(std::string_view password, std::uint32_t iterations = default_password_iterations);
bool verify_password(std::string_view password, std::string_view stored);

// Tokens and API keys are long random strings, so one SHA-256 is enough to
// store them safely; compare the hashes with constant_time_equal.
std::string hash_token(std::string_view token);

} // namespace tether

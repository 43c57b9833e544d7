#include "tether/shared/crypto.hpp"

#include "tether/shared/base64.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace tether {
namespace {
std::string to_hex(const unsigned char* data, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
        out += digits[data[i] >> 4];
        out += digits[data[i] & 0x0F];
    }
    return out;
}

std::string pbkdf2(std::string_view password, std::string_view salt, std::uint32_t iterations) {
    std::string out(32, '\0');
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                          reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                          static_cast<int>(iterations), EVP_sha256(), static_cast<int>(out.size()),
                          reinterpret_cast<unsigned char*>(out.data())) != 1) {
        throw std::runtime_error("PBKDF2 failed");
    }
    return out;
}
} // namespace

struct sha256::impl {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~impl() { EVP_MD_CTX_free(ctx); }
};

sha256::sha256() : impl_(std::make_unique<impl>()) {
    if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 init failed");
}
sha256::~sha256() = default;
sha256::sha256(sha256&&) noexcept = default;
sha256& sha256::operator=(sha256&&) noexcept = default;

void sha256::update(std::string_view bytes) { EVP_DigestUpdate(impl_->ctx, bytes.data(), bytes.size()); }

std::string sha256::hex_digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(impl_->ctx, md, &len);
    return to_hex(md, len);
}

std::string sha256_hex(std::string_view bytes) {
    sha256 h;
    h.update(bytes);
    return h.hex_digest();
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string hash_password(std::string_view password, std::uint32_t iterations) {
    std::string salt(16, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) != 1)
        throw std::runtime_error("RAND_bytes failed");
    return fmt::format("pbkdf2-sha256${}${}${}", iterations, base64_encode(salt),
                       base64_encode(pbkdf2(password, salt, iterations)));
}

bool verify_password(std::string_view password, std::string_view stored) {
    constexpr std::string_view prefix = "pbkdf2-sha256$";
    if (stored.substr(0, prefix.size()) != prefix) return false;
    stored.remove_prefix(prefix.size());
    const auto d1 = stored.find('$');
    if (d1 == std::string_view::npos) return false;
    const auto d2 = stored.find('$', d1 + 1);
    if (d2 == std::string_view::npos) return false;
    std::uint32_t iterations = 0;
    for (char c : stored.substr(0, d1)) {
        if (c < '0' || c > '9' || iterations > 100'000'000) return false;
        iterations = iterations * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (iterations == 0) return false;
    const auto salt = base64_decode(stored.substr(d1 + 1, d2 - d1 - 1));
    const auto hash = base64_decode(stored.substr(d2 + 1));
    if (!salt || !hash) return false;
    return constant_time_equal(pbkdf2(password, *salt, iterations), *hash);
}

std::string hash_token(std::string_view token) { return sha256_hex(token); }

} // namespace tether

#pragma once
// A string -> id map for vocabularies: the strings live in one arena and the
// table is open addressing with the hash kept beside each slot, so a lookup
// by string_view allocates nothing and touches little memory. Built once at
// load, then read-only (safe to share between threads).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent::text {

inline std::uint64_t hash_bytes(std::string_view s) {
    // FNV-1a over 8-byte words, then a final mix: fast on short tokens.
    std::uint64_t h = 0xcbf29ce484222325ULL ^ s.size();
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t w = 0;
        for (int k = 7; k >= 0; --k) w = (w << 8) | static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < s.size(); ++i) h = (h ^ static_cast<unsigned char>(s[i])) * 0x100000001b3ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

class string_table {
  public:
    // Inserts or replaces (the later value wins, as a HashMap insert does).
    void insert(std::string_view key, std::uint32_t value);
    std::optional<std::uint32_t> find(std::string_view key) const;
    std::size_t size() const { return count_; }
    void reserve(std::size_t n);

    // Every (key, value), in no particular order.
    template <class F> void for_each(F&& f) const {
        for (const auto& s : slots_)
            if (s.used) f(std::string_view(arena_.data() + s.offset, s.length), s.value);
    }

  private:
    struct slot {
        std::uint64_t hash = 0;
        std::uint32_t offset = 0;
        std::uint32_t length = 0;
        std::uint32_t value = 0;
        bool used = false;
    };
    void grow();

    std::vector<slot> slots_;
    std::string arena_;
    std::size_t count_ = 0;
};

} // namespace tether::agent::text

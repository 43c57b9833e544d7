#include "text/string_table.hpp"

#include <stdexcept>

namespace tether::agent::text {

void string_table::reserve(std::size_t n) {
    std::size_t want = 16;
    while (want < n * 2) want <<= 1;
    if (want <= slots_.size()) return;
    std::vector<slot> old = std::move(slots_);
    slots_.assign(want, slot{});
    const std::size_t mask = want - 1;
    for (const auto& s : old) {
        if (!s.used) continue;
        std::size_t i = s.hash & mask;
        while (slots_[i].used) i = (i + 1) & mask;
        slots_[i] = s;
    }
}

void string_table::grow() {
    reserve(slots_.empty() ? 8 : slots_.size());
}

void string_table::insert(std::string_view key, std::uint32_t value) {
    if ((count_ + 1) * 2 > slots_.size()) grow();
    if (arena_.size() + key.size() > UINT32_MAX) throw std::length_error("vocabulary too large");
    const std::uint64_t h = hash_bytes(key);
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = h & mask;
    while (slots_[i].used) {
        const auto& s = slots_[i];
        if (s.hash == h && std::string_view(arena_.data() + s.offset, s.length) == key) {
            slots_[i].value = value;
            return;
        }
        i = (i + 1) & mask;
    }
    slot& s = slots_[i];
    s.hash = h;
    s.offset = static_cast<std::uint32_t>(arena_.size());
    s.length = static_cast<std::uint32_t>(key.size());
    s.value = value;
    s.used = true;
    arena_.append(key);
    ++count_;
}

std::optional<std::uint32_t> string_table::find(std::string_view key) const {
    if (slots_.empty()) return std::nullopt;
    const std::uint64_t h = hash_bytes(key);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
        const auto& s = slots_[i];
        if (!s.used) return std::nullopt;
        if (s.hash == h && s.length == key.size() && std::string_view(arena_.data() + s.offset, s.length) == key)
            return s.value;
    }
}

} // namespace tether::agent::text

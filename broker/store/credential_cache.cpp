#include "store/credential_cache.hpp"

#include <utility>

namespace tether::broker {

std::uint64_t credential_cache::epoch() const {
    std::lock_guard lock(mu_);
    return epoch_;
}

std::optional<user_record> credential_cache::find(std::string_view key, time_point now) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || now >= it->second.expires) return std::nullopt;
    return it->second.user;
}

void credential_cache::put(std::string key, user_record user, time_point now, std::uint64_t epoch_seen) {
    std::lock_guard lock(mu_);
    if (epoch_seen != epoch_) return; // changed while the caller was reading the store
    if (entries_.size() >= capacity_) entries_.clear();
    entries_.insert_or_assign(std::move(key), entry{std::move(user), now + ttl_});
}

void credential_cache::invalidate() {
    std::lock_guard lock(mu_);
    ++epoch_;
    entries_.clear();
}

std::size_t credential_cache::size() const {
    std::lock_guard lock(mu_);
    return entries_.size();
}

} // namespace tether::broker

#pragma once
// A short-lived memory of "this key / session token belongs to this user",
// so that an API call does not cost a SQLite read (and the read mutex) just to
// learn who is calling. Keyed by the token's hash, never the token.
//
// Correctness rules:
// - Entries live at most `ttl` (1 s in the store). Changes made through this
//   process (revoking a key, deleting a user or session, a password or admin
//   change) call invalidate() and take effect at once; changes made by
//   another process on the same data directory (`tether-broker apikey revoke`
//   while the broker runs) take effect within the ttl.
// - A lookup that raced with a change must not put the old answer back: the
//   caller takes epoch() before it reads the store and put() drops the entry
//   when an invalidate() happened in between.
// - Only positive answers are kept: unknown keys always reach the store, so
//   random keys cannot fill the cache. At `capacity` entries it starts over.

#include "store/store_types.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tether::broker {

class credential_cache {
  public:
    credential_cache(std::chrono::milliseconds ttl, std::size_t capacity) : ttl_(ttl), capacity_(capacity) {}

    std::uint64_t epoch() const;
    std::optional<user_record> find(std::string_view key, time_point now) const;
    void put(std::string key, user_record user, time_point now, std::uint64_t epoch_seen);
    void invalidate();
    std::size_t size() const;

  private:
    struct entry {
        user_record user;
        time_point expires;
    };
    const std::chrono::milliseconds ttl_;
    const std::size_t capacity_;
    mutable std::mutex mu_;
    std::uint64_t epoch_ = 0;
    struct key_hash {
        using is_transparent = void; // find() by string_view, without a copy
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, entry, key_hash, std::equal_to<>> entries_;
};

} // namespace tether::broker

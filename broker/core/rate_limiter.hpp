#pragma once
// Token buckets that bound how often one API key and one user may submit to a
// space, with limits set per space (defaults for the rest). Pure: time comes
// from an injected clock, nothing here sleeps, touches a socket or a store.

#include "tether/shared/clock.hpp"

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tether::broker {

// `per_second` tokens flow in, up to `burst`. Zero per_second: no limit.
struct bucket_rate {
    double per_second = 0;
    double burst = 0;
    bool limited() const { return per_second > 0; }
    friend bool operator==(const bucket_rate&, const bucket_rate&) = default;
};

// One bucket. Starts full, so a quiet client may send `burst` at once.
class token_bucket {
  public:
    token_bucket(bucket_rate rate, time_point now);
    // How long until one token is there; zero when one is there now.
    std::chrono::milliseconds wait_for_token(time_point now);
    // Takes one token; call only after wait_for_token() said zero.
    void take();
    // True when the bucket has refilled completely (it can be forgotten).
    bool full(time_point now);

  private:
    void refill(time_point now);
    bucket_rate rate_;
    double tokens_;
    time_point last_;
};

struct rate_policy {
    bucket_rate per_key;  // each API key, per space
    bucket_rate per_user; // each user (whatever the credential), per space
    friend bool operator==(const rate_policy&, const rate_policy&) = default;
};

struct rate_limit_config {
    rate_policy defaults; // unlimited unless configured
    std::map<std::string, rate_policy, std::less<>> spaces;
    const rate_policy& for_space(std::string_view space) const;
};

// Reads one `--rate-limit` value into `config`:
//   [SPACE:]key=RATE[/BURST][,user=RATE[/BURST]]
// RATE is requests per second ("5", "0.5") or "N/m" style is not supported:
// write 0.1 for six a minute. BURST defaults to max(1, RATE). Without SPACE
// the defaults change. False (and `error` set) on malformed text.
bool parse_rate_limit(std::string_view text, rate_limit_config& config, std::string& error);

struct rate_decision {
    bool allowed = true;
    std::chrono::milliseconds retry_after{0}; // when refused: until a token is there
    std::string_view limited_by;              // "api_key" or "user" when refused
};

class rate_limiter {
  public:
    rate_limiter(const clock_source& clock, rate_limit_config config, std::size_t max_buckets = 100'000);

    // One submission by `user` (with `api_key_id`, if it came with a key; any
    // stable text naming the key, such as its hash) to `space`. Takes a token
    // from each bucket that applies only when every one of them has one, so a
    // refusal costs nothing. Thread-safe.
    rate_decision admit(std::string_view space, std::string_view user, std::optional<std::string_view> api_key_id);

    std::uint64_t refused() const;
    std::size_t bucket_count() const;

  private:
    token_bucket& bucket(const std::string& key, bucket_rate rate, time_point now);
    void forget_full_buckets(time_point now);

    const clock_source& clock_;
    const rate_limit_config config_;
    const std::size_t max_buckets_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, token_bucket> buckets_;
    std::uint64_t refused_ = 0;
};

// Whole seconds for a Retry-After header: at least 1, rounded up.
std::uint32_t retry_after_seconds(std::chrono::milliseconds wait);

} // namespace tether::broker

#include "core/rate_limiter.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

namespace tether::broker {

namespace {

double seconds_between(time_point from, time_point to) {
    if (to <= from) return 0;
    return std::chrono::duration<double>(to - from).count();
}

// "5", "0.5", "2.25" (no sign, no exponent; at most a million per second).
std::optional<double> parse_number(std::string_view s) {
    if (s.empty() || s.size() > 20) return std::nullopt;
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::fixed);
    if (ec != std::errc{} || p != s.data() + s.size() || !std::isfinite(v) || v < 0 || v > 1e6) return std::nullopt;
    return v;
}

bool parse_bucket(std::string_view text, bucket_rate& out, std::string& error) {
    auto slash = text.find('/');
    auto rate = parse_number(text.substr(0, slash));
    if (!rate) {
        error = "bad rate '" + std::string(text.substr(0, slash)) + "' (requests per second, e.g. 5 or 0.5)";
        return false;
    }
    double burst = std::max(1.0, *rate);
    if (slash != std::string_view::npos) {
        auto b = parse_number(text.substr(slash + 1));
        if (!b || *b < 1) {
            error = "bad burst '" + std::string(text.substr(slash + 1)) + "' (a number of requests, at least 1)";
            return false;
        }
        burst = *b;
    }
    out = bucket_rate{*rate, burst};
    return true;
}

} // namespace

token_bucket::token_bucket(bucket_rate rate, time_point now) : rate_(rate), tokens_(rate.burst), last_(now) {}

void token_bucket::refill(time_point now) {
    tokens_ = std::min(rate_.burst, tokens_ + seconds_between(last_, now) * rate_.per_second);
    // A clock that steps back must not mint tokens later.
    last_ = std::max(last_, now);
}

std::chrono::milliseconds token_bucket::wait_for_token(time_point now) {
    refill(now);
    if (tokens_ >= 1.0) return std::chrono::milliseconds{0};
    double missing = 1.0 - tokens_;
    // Less a hair, so that floating-point dust does not add a millisecond.
    auto ms = std::ceil(missing / rate_.per_second * 1000.0 - 1e-6);
    return std::chrono::milliseconds{static_cast<std::int64_t>(std::max(1.0, ms))};
}

void token_bucket::take() { tokens_ = std::max(0.0, tokens_ - 1.0); }

bool token_bucket::full(time_point now) {
    refill(now);
    return tokens_ >= rate_.burst;
}

const rate_policy& rate_limit_config::for_space(std::string_view space) const {
    if (auto it = spaces.find(space); it != spaces.end()) return it->second;
    return defaults;
}

bool parse_rate_limit(std::string_view text, rate_limit_config& config, std::string& error) {
    std::optional<std::string> space;
    std::string_view rest = text;
    if (auto colon = text.find(':'); colon != std::string_view::npos) {
        space = std::string(text.substr(0, colon));
        rest = text.substr(colon + 1);
        if (space->empty()) {
            error = "empty space name before ':'";
            return false;
        }
    }
    rate_policy policy = space ? config.for_space(*space) : config.defaults;
    if (rest.empty()) {
        error = "expected key=RATE[/BURST] and/or user=RATE[/BURST]";
        return false;
    }
    while (!rest.empty()) {
        auto comma = rest.find(',');
        auto item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        auto eq = item.find('=');
        if (eq == std::string_view::npos) {
            error = "expected key=… or user=…, got '" + std::string(item) + "'";
            return false;
        }
        auto name = item.substr(0, eq);
        bucket_rate* target = name == "key" ? &policy.per_key : name == "user" ? &policy.per_user : nullptr;
        if (target == nullptr) {
            error = "unknown limit '" + std::string(name) + "' (key or user)";
            return false;
        }
        if (!parse_bucket(item.substr(eq + 1), *target, error)) return false;
    }
    if (space) config.spaces[*space] = policy;
    else config.defaults = policy;
    return true;
}

rate_limiter::rate_limiter(const clock_source& clock, rate_limit_config config, std::size_t max_buckets)
    : clock_(clock), config_(std::move(config)), max_buckets_(std::max<std::size_t>(max_buckets, 1)) {}

token_bucket& rate_limiter::bucket(const std::string& key, bucket_rate rate, time_point now) {
    auto it = buckets_.find(key);
    if (it != buckets_.end()) return it->second;
    return buckets_.emplace(key, token_bucket(rate, now)).first->second;
}

// A full bucket holds nothing a new one would not, so forgetting it is exact.
// If none is full the map grows past the cap rather than forget a debt.
void rate_limiter::forget_full_buckets(time_point now) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
        if (it->second.full(now)) it = buckets_.erase(it);
        else ++it;
    }
}

rate_decision rate_limiter::admit(std::string_view space, std::string_view user,
                                  std::optional<std::string_view> api_key_id) {
    const auto& policy = config_.for_space(space);
    struct applicable {
        std::string key;
        bucket_rate rate;
        std::string_view name;
    };
    std::vector<applicable> checks;
    // '\n' cannot occur in space names, user names or key hashes, so keys cannot collide.
    if (api_key_id && policy.per_key.limited())
        checks.push_back({"k\n" + std::string(space) + "\n" + std::string(*api_key_id), policy.per_key, "api_key"});
    if (policy.per_user.limited())
        checks.push_back({"u\n" + std::string(space) + "\n" + std::string(user), policy.per_user, "user"});
    if (checks.empty()) return {};

    auto now = clock_.now();
    std::lock_guard lock(mutex_);
    // Before taking pointers into the map: forgetting erases entries.
    if (buckets_.size() + checks.size() > max_buckets_) forget_full_buckets(now);
    std::vector<token_bucket*> found;
    rate_decision refusal;
    for (const auto& c : checks) {
        auto& b = bucket(c.key, c.rate, now);
        auto wait = b.wait_for_token(now);
        if (wait.count() > 0 && wait > refusal.retry_after) {
            refusal.allowed = false;
            refusal.retry_after = wait;
            refusal.limited_by = c.name;
        }
        found.push_back(&b);
    }
    if (!refusal.allowed) {
        ++refused_;
        return refusal;
    }
    for (auto* b : found) b->take();
    return {};
}

std::uint64_t rate_limiter::refused() const {
    std::lock_guard lock(mutex_);
    return refused_;
}

std::size_t rate_limiter::bucket_count() const {
    std::lock_guard lock(mutex_);
    return buckets_.size();
}

std::uint32_t retry_after_seconds(std::chrono::milliseconds wait) {
    auto s = (wait.count() + 999) / 1000;
    return static_cast<std::uint32_t>(std::clamp<std::int64_t>(s, 1, 86400));
}

} // namespace tether::broker

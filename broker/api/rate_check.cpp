#include "api/rate_check.hpp"

#include "tether/shared/crypto.hpp"

namespace tether::broker::api {

std::optional<rate_refusal> check_rate_limit(rate_limiter* limiter, latency_metrics* metrics, const api_call& call,
                                             std::string_view space) {
    if (limiter == nullptr || !call.who.user) return std::nullopt;
    // The key's hash names it: the same text the store keeps, never the key itself.
    std::optional<std::string> key_id;
    if (call.who.how == auth_kind::bearer)
        if (auto token = bearer_token(call.header(boost::beast::http::field::authorization)))
            key_id = sha256_hex(*token);
    std::optional<std::string_view> key_view;
    if (key_id) key_view = *key_id;
    auto decision = limiter->admit(space, call.who.user->name, key_view);
    if (decision.allowed) return std::nullopt;
    if (metrics != nullptr) metrics->count_rate_limited(space, decision.limited_by);
    return rate_refusal{retry_after_seconds(decision.retry_after), decision.limited_by};
}

} // namespace tether::broker::api

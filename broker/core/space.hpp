#pragma once
// A space's configuration as admins set it. The agent token is never kept in
// clear: only its hash (tether::hash_token), compared in constant time.

#include <cstdint>
#include <string>
#include <string_view>

namespace tether::broker {

enum feature : std::uint32_t {
    feature_prompt = 1U << 0,
    feature_audio = 1U << 1,
    feature_video = 1U << 2,
    feature_file = 1U << 3,
};

// "prompt,audio" -> bits; false (and `error` set) on an unknown name.
bool parse_features(std::string_view list, std::uint32_t& out, std::string& error);
std::string features_to_string(std::uint32_t bits); // "prompt,audio"

// [A-Za-z0-9_.-]{1,64}
bool valid_space_name(std::string_view name);

struct space_config {
    std::string name;
    std::string description;
    std::uint32_t features = feature_prompt;
    std::uint32_t timeout_s = 120;
    std::uint32_t queue_limit = 1000;
    std::string token_hash;
    friend bool operator==(const space_config&, const space_config&) = default;
};

} // namespace tether::broker

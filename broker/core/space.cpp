// Space names and feature lists, as admins write them on the command line
// and in the admin API.
#include "core/space.hpp"

#include <array>
#include <utility>

namespace tether::broker {
namespace {

constexpr std::array<std::pair<feature, std::string_view>, 4> feature_names{{
    {feature_prompt, "prompt"},
    {feature_audio, "audio"},
    {feature_video, "video"},
    {feature_file, "file"},
}};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

} // namespace

bool parse_features(std::string_view list, std::uint32_t& out, std::string& error) {
    std::uint32_t bits = 0;
    while (true) {
        const auto comma = list.find(',');
        const auto item = trim(list.substr(0, comma));
        if (!item.empty()) {
            bool known = false;
            for (const auto& [bit, name] : feature_names) {
                if (name == item) {
                    bits |= bit;
                    known = true;
                }
            }
            if (!known) {
                error = "unknown feature '" + std::string(item) + "' (expected prompt, audio, video or file)";
                return false;
            }
        }
        if (comma == std::string_view::npos) {
            break;
        }
        list.remove_prefix(comma + 1);
    }
    if (bits == 0) {
        error = "no features given (expected some of prompt, audio, video, file)";
        return false;
    }
    out = bits;
    return true;
}

std::string features_to_string(std::uint32_t bits) {
    std::string out;
    for (const auto& [bit, name] : feature_names) {
        if ((bits & bit) != 0) {
            if (!out.empty()) {
                out += ',';
            }
            out += name;
        }
    }
    return out;
}

bool valid_space_name(std::string_view name) {
    if (name.empty() || name.size() > 64) {
        return false;
    }
    for (const char c : name) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '.' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

} // namespace tether::broker

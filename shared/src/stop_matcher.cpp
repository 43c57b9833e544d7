#include "tether/shared/stop_matcher.hpp"

#include <algorithm>

namespace tether {

stop_matcher::stop_matcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

std::string stop_matcher::push(std::string_view text) {
    if (stopped_) return {};
    if (stops_.empty()) return std::string(text);
    held_.append(text);
    // The stop string that is complete first wins (the earliest end; then
    // the earliest start; then the first listed): generation ends there, so
    // a longer one that began earlier never gets to complete. The result
    // does not depend on how the text was cut into deltas.
    std::size_t best = std::string::npos, best_end = std::string::npos;
    for (std::size_t i = 0; i < stops_.size(); ++i) {
        if (stops_[i].empty()) continue; // matches nothing
        const auto at = held_.find(stops_[i]);
        if (at == std::string::npos) continue;
        const auto end = at + stops_[i].size();
        if (end < best_end || (end == best_end && at < best)) {
            best = at;
            best_end = end;
            stopped_ = i;
        }
    }
    if (stopped_) {
        std::string out = held_.substr(0, best);
        held_.clear();
        return out;
    }
    // Hold the longest suffix that begins some stop string. It starts on a
    // character boundary: a stop string's first byte is a lead byte.
    std::size_t hold = 0;
    for (const auto& s : stops_) {
        if (s.empty()) continue;
        for (std::size_t k = std::min(s.size() - 1, held_.size()); k > hold; --k) {
            if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
                hold = k;
                break;
            }
        }
    }
    std::string out = held_.substr(0, held_.size() - hold);
    held_.erase(0, held_.size() - hold);
    return out;
}

std::string stop_matcher::finish() {
    if (stopped_) return {};
    std::string out;
    out.swap(held_);
    return out;
}

} // namespace tether

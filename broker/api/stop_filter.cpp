#include "api/stop_filter.hpp"

#include <algorithm>

namespace tether::broker::api {

stop_filter::stop_filter(std::vector<std::string> stops) : stops_(std::move(stops)) {
    std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
}

std::string stop_filter::feed(std::string_view text) {
    if (stopped_) return {};
    if (stops_.empty()) return std::string(text);
    pending_ += text;
    // The earliest stop sequence wins.
    auto first = std::string::npos;
    for (const auto& s : stops_) first = std::min(first, pending_.find(s));
    if (first != std::string::npos) {
        stopped_ = true;
        std::string out = pending_.substr(0, first);
        pending_.clear();
        return out;
    }
    // Hold back the longest tail that is a proper prefix of some stop sequence.
    std::size_t hold = 0;
    for (const auto& s : stops_) {
        for (std::size_t n = std::min(s.size() - 1, pending_.size()); n > hold; --n) {
            if (std::string_view(pending_).substr(pending_.size() - n) == std::string_view(s).substr(0, n)) {
                hold = n;
                break;
            }
        }
    }
    std::string out = pending_.substr(0, pending_.size() - hold);
    pending_.erase(0, pending_.size() - hold);
    return out;
}

std::string stop_filter::flush() {
    if (stopped_) return {};
    std::string out;
    out.swap(pending_);
    return out;
}

} // namespace tether::broker::api

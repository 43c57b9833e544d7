#include "backends/model/text_coalescer.hpp"

namespace tether::agent {
namespace {

// Length of the sequence a lead byte opens, 0 for a byte that opens none
// (a continuation byte or one UTF-8 never uses).
std::size_t sequence_length(unsigned char b) {
    if (b < 0x80) return 1;
    if ((b & 0xE0) == 0xC0) return 2;
    if ((b & 0xF0) == 0xE0) return 3;
    if ((b & 0xF8) == 0xF0) return 4;
    return 0;
}

// How many bytes at the end of `s` start a sequence that is not finished yet.
// Only the lead byte's structure counts: invalid bytes are never held back,
// since no later byte could make them valid.
std::size_t incomplete_tail(std::string_view s) {
    for (std::size_t back = 1; back <= 3 && back <= s.size(); ++back) {
        const auto b = static_cast<unsigned char>(s[s.size() - back]);
        if ((b & 0xC0) == 0x80) continue; // continuation: look further back
        const std::size_t need = sequence_length(b);
        return need > back ? back : 0;
    }
    return 0;
}

} // namespace

text_coalescer::text_coalescer(std::chrono::milliseconds interval) : interval_(interval) {}

std::optional<std::string> text_coalescer::push(std::string_view bytes, clock::time_point now) {
    text_.append(bytes);
    if (last_emit_ && now - *last_emit_ < interval_) return std::nullopt;
    const std::string_view held = std::string_view(text_).substr(emitted_);
    const std::size_t ready = held.size() - incomplete_tail(held);
    if (ready == 0) return std::nullopt;
    std::string delta(held.substr(0, ready));
    emitted_ += ready;
    last_emit_ = now;
    return delta;
}

std::string text_coalescer::flush() {
    std::string rest = text_.substr(emitted_);
    emitted_ = text_.size();
    return rest;
}

} // namespace tether::agent

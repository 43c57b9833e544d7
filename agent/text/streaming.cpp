#include "text/streaming.hpp"

#include <algorithm>

namespace tether::agent::text {
namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD"; // U+FFFD

bool ends_incomplete(const std::string& s) {
    return s.size() >= replacement.size() && std::string_view(s).substr(s.size() - replacement.size()) == replacement;
}

// `text` continues `before` and adds to it.
bool extends(const std::string& text, const std::string& before) {
    return text.size() > before.size() && text.compare(0, before.size(), before) == 0;
}

} // namespace

incremental_decoder::incremental_decoder(const tokenizer& tok, bool skip_special_tokens)
    : tok_(&tok), skip_special_(skip_special_tokens) {}

std::string incremental_decoder::decode_window(std::size_t to) const {
    return tok_->decode(std::span<const token_id>(window_).first(to), skip_special_);
}

std::string incremental_decoder::release(std::size_t upto, const std::string& before, const std::string& text) {
    std::string delta = text.substr(before.size());
    // The next window starts where this release began, unless those ids
    // show nothing on their own (a Strip decoder ate them at a window's
    // start): then it keeps its start, so stripping never reaches new text.
    const auto released_ids = std::span<const token_id>(window_).subspan(read_, upto - read_);
    if (!tok_->decode(released_ids, skip_special_).empty()) {
        window_.erase(window_.begin(), window_.begin() + static_cast<std::ptrdiff_t>(read_));
        upto -= read_;
    }
    read_ = upto;
    released_ += delta.size();
    return delta;
}

std::string incremental_decoder::push(token_id id) {
    window_.push_back(id);
    // A run of fallback bytes is decided only when it ends; an id the
    // decoder never sees (a skipped special token, an unknown id) does not
    // end it.
    const bool shown = tok_->is_shown(id, skip_special_);
    if (shown && tok_->is_fallback_byte(id)) {
        in_byte_run_ = true;
        return {};
    }
    if (!shown) {
        if (in_byte_run_) return {};
    } else {
        in_byte_run_ = false;
    }
    const std::size_t n = window_.size();
    const std::string before = decode_window(read_);
    const std::string now = decode_window(n);
    if (extends(now, before) && !ends_incomplete(now)) return release(n, before, now);
    // Held while the window's text has not grown past what was released,
    // rewrites it, or ends mid-character. A character needs at most four
    // bytes, so text that four more ids left unchanged is final: release it,
    // which keeps the window short even when a model emits stray bytes.
    if (n - read_ > 2 * settle) {
        const std::string settled = decode_window(n - settle);
        if (extends(settled, before) && now.compare(0, settled.size(), settled) == 0)
            return release(n - settle, before, settled);
    }
    return {};
}

std::string incremental_decoder::finish() {
    if (read_ == window_.size()) return {};
    const std::string before = decode_window(read_);
    const std::string now = decode_window(window_.size());
    // No supported decoder rewrites what a window released; were one to,
    // what it adds past the released length is still the best continuation.
    if (now.compare(0, before.size(), before) == 0) return release(window_.size(), before, now);
    std::string delta = now.substr(std::min(before.size(), now.size()));
    read_ = window_.size();
    released_ += delta.size();
    return delta;
}

} // namespace tether::agent::text

#pragma once
// Reads a text/event-stream body as it arrives: the payload of each event
// (its `data:` lines joined by '\n', as the SSE specification has it), one at
// a time, with its `event:` name, whatever the chunk boundaries; comments and
// other fields skipped.

#include <algorithm>
#include <string>
#include <string_view>

namespace tether::agent {

class sse_lines {
  public:
    // Calls on_event(payload) for each event completed by `bytes`.
    template <typename F> void feed(std::string_view bytes, F&& on_event) {
        pending_.append(bytes);
        std::size_t start = 0;
        for (;;) {
            const auto nl = pending_.find('\n', start);
            if (nl == std::string::npos) break;
            std::string_view line(pending_.data() + start, nl - start);
            start = nl + 1;
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (line.empty()) { // the blank line that ends an event
                if (has_data_) on_event(std::string_view(data_));
                data_.clear();
                event_.clear();
                has_data_ = false;
                continue;
            }
            if (line.starts_with("event:")) {
                line.remove_prefix(6);
                if (line.starts_with(' ')) line.remove_prefix(1);
                event_.assign(line.substr(0, 64));
                continue;
            }
            if (!line.starts_with("data")) continue;
            line.remove_prefix(4);
            if (!line.empty() && line.front() != ':') continue; // "database: …" is another field
            if (!line.empty()) line.remove_prefix(1);
            if (line.starts_with(' ')) line.remove_prefix(1);
            if (has_data_) data_.push_back('\n');
            data_.append(line);
            has_data_ = true;
        }
        pending_.erase(0, start);
    }
    // The `event:` name of the event being handed over ("" when it had none).
    const std::string& event() const { return event_; }
    // Bytes held for an event not yet ended: the caller bounds this.
    std::size_t pending() const { return pending_.size() + data_.size(); }

  private:
    std::string pending_;
    std::string data_;
    std::string event_;
    bool has_data_ = false;
};

// What an upstream call's body is read into: an error answer's first 64 KiB,
// a whole answer, or, for an event stream, each event handed over as it
// completes (one of over 1 MiB stops the reading: `too_long`).
struct answer_reader {
    static constexpr std::size_t max_error_body = 64U << 10;
    static constexpr std::size_t max_event = 1U << 20;
    unsigned status = 0;
    bool sse = false;
    bool too_long = false;
    std::string error_body;
    std::string body;
    sse_lines lines;

    // False when reading should stop.
    template <typename F> bool feed(std::string_view bytes, F&& on_event) {
        if (status >= 300) {
            error_body.append(bytes.substr(0, max_error_body - std::min(max_error_body, error_body.size())));
            return error_body.size() < max_error_body;
        }
        if (!sse) {
            body.append(bytes);
            return true;
        }
        lines.feed(bytes, on_event);
        if (lines.pending() > max_event) too_long = true;
        return !too_long;
    }
};

} // namespace tether::agent

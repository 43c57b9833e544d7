#pragma once
// The events one request has published, kept so that an SSE watcher that
// connects late or reconnects (Last-Event-ID) can replay them. Bounded: a new
// position replaces the previous one, and past the limit runs of deltas are
// merged into one event. Memory only; no I/O.

#include "core/core_effects.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace tether::broker {

class event_log {
  public:
    explicit event_log(std::size_t max_events);

    // Adds an event (ids must increase). A queued event right after another
    // queued event replaces it: only the latest position matters.
    void append(const request_event& e);
    // Adds a delta; kept as (seq, text) so that merging appends in place.
    void append_delta(const uuid& request_id, std::uint64_t id, std::uint64_t seq, std::string_view text);
    // Forgets the deltas (once a completed event carries the whole output).
    void drop_deltas();
    // Events with id > last_id, oldest first.
    std::vector<request_event> since(std::uint64_t last_id) const;
    std::size_t size() const { return items_.size(); }

  private:
    struct item {
        request_event event; // for deltas data_json is built on read
        bool is_delta = false;
        std::uint64_t seq = 0;
        std::string text;
        std::uint64_t first_seq = 0; // of a merged run's first part (== seq when not merged)
    };
    void shrink();

    std::size_t max_events_;
    std::deque<item> items_;
};

// {"seq":N,"text":"…"}; a merged run of deltas also says where it began:
// {"seq":N,"first_seq":F,"text":"…"} covers seq F to N.
std::string delta_json(std::uint64_t seq, std::string_view text, std::uint64_t first_seq = 0);

} // namespace tether::broker

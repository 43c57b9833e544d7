// Bounded per-request event log; see event_log.hpp.
#include "core/event_log.hpp"

#include "tether/protocol/json_writer.hpp"

#include <algorithm>

namespace tether::broker {

std::string delta_json(std::uint64_t seq, std::string_view text, std::uint64_t first_seq) {
    protocol::json_writer w;
    w.begin_object().key("seq").value(seq);
    if (first_seq != 0 && first_seq != seq) w.key("first_seq").value(first_seq);
    w.key("text").value(text).end_object();
    return w.take();
}

// Fewer than a handful of events would not even hold one request's life.
event_log::event_log(std::size_t max_events) : max_events_(std::max<std::size_t>(max_events, 8)) {}

void event_log::append(const request_event& e) {
    if (e.type == "queued" && !items_.empty() && !items_.back().is_delta && items_.back().event.type == "queued") {
        items_.back().event = e;
        return;
    }
    items_.push_back(item{e, false, 0, {}, 0});
    shrink();
}

void event_log::append_delta(const uuid& request_id, std::uint64_t id, std::uint64_t seq, std::string_view text) {
    items_.push_back(item{request_event{request_id, id, "delta", {}}, true, seq, std::string(text), seq});
    shrink();
}

// Merges the oldest run of consecutive deltas into its first element, which
// keeps the id and seq of the run's last part (and the seq of its first part,
// so that a watcher who had part of the run can tell what it replaces). Appending into the first part
// keeps the total copying linear in the text streamed.
void event_log::shrink() {
    while (items_.size() > max_events_) {
        std::size_t first = 0;
        while (first + 1 < items_.size() && !(items_[first].is_delta && items_[first + 1].is_delta)) {
            ++first;
        }
        if (first + 1 >= items_.size()) {
            return; // no two deltas in a row: only a few control events, let it be
        }
        std::size_t last = first + 1;
        while (last + 1 < items_.size() && items_[last + 1].is_delta) {
            ++last;
        }
        auto& head = items_[first];
        for (std::size_t i = first + 1; i <= last; ++i) {
            head.text += items_[i].text;
        }
        head.event.id = items_[last].event.id;
        head.seq = items_[last].seq;
        items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(first + 1),
                     items_.begin() + static_cast<std::ptrdiff_t>(last + 1));
    }
}

void event_log::drop_deltas() {
    std::erase_if(items_, [](const item& it) { return it.is_delta; });
}

std::vector<request_event> event_log::since(std::uint64_t last_id) const {
    std::vector<request_event> out;
    for (const auto& it : items_) {
        if (it.event.id <= last_id) {
            continue;
        }
        out.push_back(it.event);
        if (it.is_delta) {
            out.back().data_json = delta_json(it.seq, it.text, it.first_seq);
        }
    }
    return out;
}

} // namespace tether::broker

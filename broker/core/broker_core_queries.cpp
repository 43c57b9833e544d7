// broker_core, read side: what the HTTP API, SSE sessions and the admin
// pages ask of the core. Nothing here changes state.
#include "core/broker_core.hpp"

#include "core/core_state.hpp"

#include <algorithm>

namespace tether::broker {

const space_config* broker_core::find_space(std::string_view name) const {
    const space_state* s = find_space_state(name);
    return s ? &s->config : nullptr;
}

std::size_t broker_core::queue_length(std::string_view name) const {
    const space_state* s = find_space_state(name);
    return s ? s->queue.size() : 0;
}

std::optional<space_view> broker_core::view_space(std::string_view name) const {
    const space_state* s = find_space_state(name);
    if (!s) {
        return std::nullopt;
    }
    space_view v;
    v.config = s->config;
    v.queue_length = s->queue.size();
    if (s->holder) {
        const agent_state& a = *agents_.at(*s->holder);
        v.connected = true;
        v.agent_name = a.info.name;
        v.agent_version = a.info.version;
        v.draining = a.draining;
        if (auto sl = a.slots.find(name); sl != a.slots.end()) {
            v.capacity = sl->second.capacity;
            v.in_flight = sl->second.held.size();
            v.model = sl->second.model;
        }
    }
    return v;
}

std::vector<space_view> broker_core::list_spaces() const {
    std::vector<space_view> out;
    out.reserve(spaces_.size());
    for (const auto& [name, s] : spaces_) {
        out.push_back(*view_space(name));
    }
    return out;
}

// ------------------------------------------------------------------ queries

const request_record* broker_core::find(const uuid& id) const {
    const entry* e = find_entry(id);
    return e ? &e->rec : nullptr;
}

std::optional<std::size_t> broker_core::position(const uuid& id) const {
    const entry* e = find_entry(id);
    if (!e || e->rec.state != request_state::queued) {
        return std::nullopt;
    }
    const space_state* s = find_space_state(e->rec.space);
    if (!s) {
        return std::nullopt;
    }
    auto it = std::find(s->queue.begin(), s->queue.end(), id);
    if (it == s->queue.end()) {
        return std::nullopt;
    }
    return static_cast<std::size_t>(it - s->queue.begin()) + 1;
}

std::vector<request_event> broker_core::events_since(const uuid& id, std::uint64_t last_event_id) const {
    const entry* e = find_entry(id);
    return e ? e->log.since(last_event_id) : std::vector<request_event>{};
}

std::vector<agent_view> broker_core::list_agents() const {
    std::vector<agent_view> out;
    for (const auto& [conn, a] : agents_) {
        agent_view v;
        v.conn = conn;
        v.agent = a->info;
        v.connected_since = a->connected_since;
        v.draining = a->draining;
        for (const auto& [name, sl] : a->slots) {
            v.in_flight += sl.held.size();
            const space_state* s = find_space_state(name);
            if (s && s->holder == conn) {
                v.spaces.push_back(name);
            }
        }
        out.push_back(std::move(v));
    }
    return out;
}

std::optional<agent_conn_id> broker_core::holder_of(const uuid& id) const {
    const entry* e = find_entry(id);
    return e ? e->holder : std::nullopt;
}

} // namespace tether::broker

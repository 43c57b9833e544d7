// broker_core, write side: spaces, queues, submit, cancel, deadlines,
// recovery, watchers. Agents: broker_core_agents.cpp; reads: broker_core_queries.cpp.
#include "core/broker_core.hpp"

#include "core/core_state.hpp"

#include "tether/protocol/json_writer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <unordered_set>

namespace tether::broker {
namespace {

std::string error_json(const protocol::error_info& e) {
    protocol::json_writer w;
    w.begin_object().key("error").begin_object();
    w.key("code").value(e.code).key("message").value(e.message);
    w.end_object().end_object();
    return w.take();
}

std::string completed_json(const request_record& r) {
    protocol::json_writer w;
    w.begin_object().key("result");
    if (r.result_json.empty()) {
        w.begin_object().key("output").value(r.output_text).end_object();
    } else {
        w.raw(r.result_json);
    }
    if (r.inference_ms) {
        w.key("inference_ms").value(*r.inference_ms);
    }
    w.end_object();
    return w.take();
}

} // namespace

broker_core::broker_core(const clock_source& clock, core_effects& effects, core_limits limits)
    : clock_(clock), effects_(effects), limits_(limits) {
    limits_.max_attempts = std::max(limits_.max_attempts, 1);
    limits_.max_capacity = std::max<std::uint32_t>(limits_.max_capacity, 1);
}

broker_core::~broker_core() = default;

// ------------------------------------------------------------------ lookups

broker_core::entry* broker_core::find_entry(const uuid& id) {
    auto it = requests_.find(id);
    return it == requests_.end() ? nullptr : it->second.get();
}

const broker_core::entry* broker_core::find_entry(const uuid& id) const {
    auto it = requests_.find(id);
    return it == requests_.end() ? nullptr : it->second.get();
}

broker_core::space_state* broker_core::find_space_state(std::string_view name) {
    auto it = spaces_.find(name);
    return it == spaces_.end() ? nullptr : it->second.get();
}

const broker_core::space_state* broker_core::find_space_state(std::string_view name) const {
    auto it = spaces_.find(name);
    return it == spaces_.end() ? nullptr : it->second.get();
}

broker_core::entry& broker_core::add_entry(request_record r) {
    const uuid id = r.id;
    auto owned = std::make_unique<entry>(std::move(r), limits_.max_events_per_request);
    owned->next_event_id = (limits_.event_epoch << 32U) + 1;
    entry& e = *owned;
    requests_.emplace(id, std::move(owned));
    deadlines_.emplace(e.rec.deadline, id);
    return e;
}

// ------------------------------------------------------------------ spaces

void broker_core::set_space(space_config config) {
    auto& s = spaces_[config.name];
    const bool new_token = s && s->config.token_hash != config.token_hash;
    if (!s) {
        s = std::make_unique<space_state>();
    }
    s->config = std::move(config);
    effects_.space_changed(s->config.name, &s->config);
    if (new_token) {
        revoke_registrations(s->config.name, "token_rotated",
                             "the agent token of space " + s->config.name + " was rotated");
    }
    settle(*s, 0);
}

void broker_core::sync_spaces(const std::vector<space_config>& configs) {
    std::set<std::string, std::less<>> wanted;
    for (const auto& c : configs) {
        wanted.insert(c.name);
        const space_state* s = find_space_state(c.name);
        if (!s || !(s->config == c)) {
            set_space(c);
        }
    }
    std::vector<std::string> gone;
    for (const auto& [name, s] : spaces_) {
        if (!wanted.contains(name)) {
            gone.push_back(name);
        }
    }
    for (const auto& name : gone) {
        remove_space(name);
    }
}

bool broker_core::remove_space(std::string_view name) {
    auto it = spaces_.find(name);
    if (it == spaces_.end()) {
        return false;
    }
    space_state& s = *it->second;
    const protocol::error_info removed{"space_removed", "the space was removed"};
    const std::deque<uuid> queued = std::move(s.queue);
    s.queue.clear();
    for (const uuid& id : queued) {
        if (entry* e = find_entry(id)) {
            finish(*e, request_state::failed, removed);
        }
    }
    // Held requests: the current holder and any draining connection. They
    // fail (and are cancelled there) rather than requeue: the space is gone.
    for (auto& [conn, agent] : agents_) {
        auto slot_it = agent->slots.find(name);
        if (slot_it == agent->slots.end()) {
            continue;
        }
        const std::vector<uuid> held = slot_it->second.held;
        for (const uuid& id : held) {
            if (entry* e = find_entry(id)) {
                finish(*e, request_state::failed, removed);
                effects_.send_cancel(conn, id, "space_removed");
            }
        }
    }
    revoke_registrations(name, "space_removed", "space " + std::string(name) + " was removed");
    const std::string gone = it->first;
    spaces_.erase(it);
    effects_.space_changed(gone, nullptr);
    return true;
}

// ------------------------------------------------------------------ requests

submit_outcome broker_core::submit(request_record r) {
    space_state* s = find_space_state(r.space);
    if (!s) {
        return {submit_status::unknown_space, 0, 0};
    }
    if (r.id.is_nil()) {
        r.id = uuid::random();
    }
    if (requests_.contains(r.id)) {
        return {submit_status::duplicate_id, 0, 0};
    }
    if (s->queue.size() >= s->config.queue_limit) {
        ++counters_.rejected_queue_full;
        return {submit_status::queue_full, 0, retry_after(*s)};
    }
    const time_point now = clock_.now();
    if (r.created == time_point{}) {
        r.created = now;
    }
    if (r.deadline == time_point{}) {
        r.deadline = r.created + std::chrono::seconds{s->config.timeout_s};
    }
    r.state = request_state::queued;
    r.attempts = 0;
    const uuid id = r.id;
    entry& e = add_entry(std::move(r));
    s->queue.push_back(id);
    ++counters_.submitted;
    effects_.persist(e.rec);
    const std::size_t pos = s->queue.size();
    publish_position(e, pos);
    settle(*s, s->queue.size());
    return {submit_status::ok, pos, 0};
}

cancel_outcome broker_core::cancel(const uuid& id, std::string_view reason) {
    entry* e = find_entry(id);
    if (!e) {
        return cancel_outcome::not_found;
    }
    if (is_terminal(e->rec.state)) {
        return cancel_outcome::already_finished;
    }
    const std::string message = reason == "user" ? "cancelled by the user" : "cancelled (" + std::string(reason) + ")";
    const std::string space = e->rec.space;
    cancel_entry(*e, reason, {"cancelled", message});
    if (space_state* s = find_space_state(space)) {
        settle(*s, 0);
    }
    return cancel_outcome::ok;
}

// Ends a non-terminal request as cancelled wherever it is; the caller settles its space.
void broker_core::cancel_entry(entry& e, std::string_view reason, protocol::error_info error) {
    const uuid id = e.rec.id;
    if (e.rec.state == request_state::queued) {
        if (space_state* s = find_space_state(e.rec.space)) {
            remove_from_queue(*s, id);
        }
        finish(e, request_state::cancelled, std::move(error));
        return;
    }
    const std::optional<agent_conn_id> conn = e.holder;
    finish(e, request_state::cancelled, std::move(error));
    if (conn) {
        effects_.send_cancel(*conn, id, reason);
    }
}

std::size_t broker_core::cancel_requests_of(std::string_view username, std::string_view why) {
    std::vector<uuid> ids;
    for (const auto& [id, e] : requests_) {
        if (e->rec.username == username && !is_terminal(e->rec.state)) {
            ids.push_back(id);
        }
    }
    std::set<std::string> touched;
    for (const uuid& id : ids) {
        entry* e = find_entry(id);
        touched.insert(e->rec.space);
        cancel_entry(*e, "user_revoked", {"cancelled", "cancelled: " + std::string(why)});
    }
    for (const std::string& name : touched) {
        if (space_state* s = find_space_state(name)) {
            settle(*s, 0);
        }
    }
    return ids.size();
}

std::set<std::string> broker_core::users_with_live_requests() const {
    std::set<std::string> out;
    for (const auto& [id, e] : requests_) {
        if (!is_terminal(e->rec.state)) {
            out.insert(e->rec.username);
        }
    }
    return out;
}

bool broker_core::withdraw(const uuid& id) {
    entry* e = find_entry(id);
    if (!e || is_terminal(e->rec.state)) {
        return false;
    }
    space_state* s = find_space_state(e->rec.space);
    const std::optional<agent_conn_id> conn = e->holder;
    release_holder(*e);
    if (s && e->rec.state == request_state::queued) {
        remove_from_queue(*s, id);
    }
    deadlines_.erase({e->rec.deadline, id});
    requests_.erase(id);
    if (conn) {
        effects_.send_cancel(*conn, id, "store_failed");
    }
    if (s) {
        settle(*s, 0);
    }
    return true;
}

void broker_core::forget(const std::vector<uuid>& ids) {
    std::unordered_set<uuid, uuid_hash> gone;
    for (const uuid& id : ids) {
        if (const entry* e = find_entry(id); e && is_terminal(e->rec.state)) {
            requests_.erase(id);
            gone.insert(id);
        }
    }
    if (!gone.empty()) {
        std::erase_if(finished_, [&](const uuid& id) { return gone.contains(id); });
    }
}

void broker_core::tick() {
    const time_point now = clock_.now();
    std::vector<uuid> expired;
    for (auto it = deadlines_.begin(); it != deadlines_.end() && it->first <= now; ++it) {
        expired.push_back(it->second);
    }
    if (expired.empty()) {
        return;
    }
    std::set<std::string> touched;
    for (const uuid& id : expired) {
        entry* e = find_entry(id);
        if (!e || is_terminal(e->rec.state)) {
            continue;
        }
        touched.insert(e->rec.space);
        expire(*e);
    }
    for (const std::string& name : touched) {
        if (space_state* s = find_space_state(name)) {
            settle(*s, 0);
        }
    }
}

// Times a request out wherever it is; the caller settles its space.
void broker_core::expire(entry& e) {
    const uuid id = e.rec.id;
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(e.rec.deadline - e.rec.created).count();
    const protocol::error_info error{"timeout",
                                     "no result within the space's timeout of " + std::to_string(seconds) + " s"};
    if (e.rec.state == request_state::queued) {
        if (space_state* s = find_space_state(e.rec.space)) {
            remove_from_queue(*s, id);
        }
        finish(e, request_state::timeout, error);
        return;
    }
    const std::optional<agent_conn_id> conn = e.holder;
    finish(e, request_state::timeout, error);
    if (conn) {
        effects_.send_cancel(*conn, id, "timeout");
    }
}

std::optional<time_point> broker_core::next_deadline() const {
    if (deadlines_.empty()) {
        return std::nullopt;
    }
    return deadlines_.begin()->first;
}

void broker_core::recover(std::vector<request_record> non_terminal) {
    std::stable_sort(non_terminal.begin(), non_terminal.end(),
                     [](const request_record& a, const request_record& b) { return a.created < b.created; });
    const time_point now = clock_.now();
    std::map<std::string, std::vector<entry*>, std::less<>> front;
    std::map<std::string, std::vector<entry*>, std::less<>> back;
    for (auto& r : non_terminal) {
        if (is_terminal(r.state) || r.id.is_nil() || requests_.contains(r.id)) {
            continue;
        }
        entry& e = add_entry(std::move(r));
        e.rec.dispatched_at.reset();
        if (!find_space_state(e.rec.space)) {
            finish(e, request_state::failed, {"space_removed", "the space no longer exists"});
            continue;
        }
        if (e.rec.deadline <= now) {
            e.rec.state = request_state::queued;
            expire(e);
            continue;
        }
        if (e.rec.state == request_state::queued) {
            // It was dispatched before (and requeued by the last broker):
            // a watcher from then may hold its partial output, so the new
            // log starts by saying that it starts over.
            if (e.rec.attempts > 0) {
                emit(e, "requeued", "{\"attempts\":" + std::to_string(e.rec.attempts) + "}");
            }
            back[e.rec.space].push_back(&e);
            continue;
        }
        // It was with an agent when the broker stopped: that dispatch is lost.
        e.rec.state = request_state::queued;
        e.rec.started_at.reset();
        e.rec.output_text.clear();
        ++counters_.requeued;
        effects_.persist(e.rec);
        emit(e, "requeued", "{\"attempts\":" + std::to_string(e.rec.attempts) + "}");
        front[e.rec.space].push_back(&e);
    }
    for (auto& [name, list] : front) {
        enqueue_front(*find_space_state(name), list);
    }
    for (auto& [name, list] : back) {
        space_state& s = *find_space_state(name);
        for (entry* e : list) {
            s.queue.push_back(e->rec.id);
        }
    }
    for (auto& [name, s] : spaces_) {
        settle(*s, 0);
    }
}

// ------------------------------------------------------------------ watchers

void broker_core::watch(const uuid& id) {
    entry* e = find_entry(id);
    if (!e) {
        return;
    }
    ++e->watchers;
    if (e->rec.state == request_state::queued) {
        if (auto pos = position(id); pos && *pos != e->published_position) {
            publish_position(*e, *pos);
        }
    }
}

void broker_core::unwatch(const uuid& id) {
    if (entry* e = find_entry(id); e && e->watchers > 0) {
        --e->watchers;
    }
}

// ------------------------------------------------------------------ internals

void broker_core::emit(entry& e, std::string type, std::string data_json) {
    request_event ev{e.rec.id, e.next_event_id++, std::move(type), std::move(data_json)};
    e.log.append(ev);
    effects_.publish(ev);
}

void broker_core::publish_position(entry& e, std::size_t pos) {
    e.published_position = pos;
    emit(e, "queued", "{\"position\":" + std::to_string(pos) + "}");
}

// Publishes a new position for every request from `from_index` on whose
// position differs from the one its watchers last saw: O(queue) at worst.
void broker_core::publish_positions(space_state& s, std::size_t from_index) {
    for (std::size_t i = from_index; i < s.queue.size(); ++i) {
        entry* e = find_entry(s.queue[i]);
        if (!e || e->published_position == i + 1) {
            continue;
        }
        if (limits_.positions_for_watched_only && e->watchers == 0 && e->published_position != 0) {
            continue;
        }
        publish_position(*e, i + 1);
    }
}

// Dispatches what the space's agent can take, then tells the requests still
// waiting (from `from_index`, or all if anything left the front) where they are.
void broker_core::settle(space_state& s, std::size_t from_index) {
    if (dispatch(s)) {
        from_index = 0;
    }
    publish_positions(s, from_index);
}

std::size_t broker_core::remove_from_queue(space_state& s, const uuid& id) {
    auto it = std::find(s.queue.begin(), s.queue.end(), id);
    const auto index = static_cast<std::size_t>(it - s.queue.begin());
    if (it != s.queue.end()) {
        s.queue.erase(it);
    }
    return index;
}

// Puts requests (in the order given) ahead of everything waiting.
void broker_core::enqueue_front(space_state& s, const std::vector<entry*>& es) {
    for (auto it = es.rbegin(); it != es.rend(); ++it) {
        s.queue.push_front((*it)->rec.id);
        (*it)->published_position = 0;
    }
}

void broker_core::finish(entry& e, request_state state, protocol::error_info error) {
    release_holder(e);
    deadlines_.erase({e.rec.deadline, e.rec.id});
    e.rec.state = state;
    e.rec.finished_at = clock_.now();
    e.published_position = 0;
    std::string data;
    switch (state) {
    case request_state::completed:
        ++counters_.completed;
        data = completed_json(e.rec);
        break;
    case request_state::failed:
        ++counters_.failed;
        break;
    case request_state::timeout:
        ++counters_.timed_out;
        break;
    case request_state::cancelled:
        ++counters_.cancelled;
        break;
    default:
        break;
    }
    if (state != request_state::completed) {
        e.rec.error = std::move(error);
        data = error_json(e.rec.error);
    }
    e.rec.last_event_id = e.next_event_id; // the terminal event's id, emitted below
    effects_.persist(e.rec);
    if (state == request_state::completed) {
        // The completed event carries the whole result; the streamed pieces
        // need not stay in memory twice.
        e.log.drop_deltas();
    }
    emit(e, std::string(to_string(state)), std::move(data));
    retain_finished(e.rec.id);
}

void broker_core::release_holder(entry& e) {
    if (!e.holder) {
        return;
    }
    if (auto a = agents_.find(*e.holder); a != agents_.end()) {
        if (auto sl = a->second->slots.find(e.rec.space); sl != a->second->slots.end()) {
            auto& held = sl->second.held;
            held.erase(std::remove(held.begin(), held.end(), e.rec.id), held.end());
        }
    }
    e.holder.reset();
}

// Keeps the newest finished requests; never evicts the one just finished, so
// callers may still use it.
void broker_core::retain_finished(const uuid& id) {
    finished_.push_back(id);
    while (finished_.size() > limits_.retain_finished && finished_.front() != id) {
        requests_.erase(finished_.front());
        finished_.pop_front();
    }
}

std::uint32_t broker_core::retry_after(const space_state& s) const {
    constexpr double default_service_s = 5.0;
    const double avg = s.has_avg ? s.avg_service_s : default_service_s;
    std::uint32_t capacity = 1;
    if (s.holder) {
        const agent_state& a = *agents_.at(*s.holder);
        if (auto sl = a.slots.find(s.config.name); sl != a.slots.end()) {
            capacity = std::max<std::uint32_t>(sl->second.capacity, 1);
        }
    }
    const auto secs = static_cast<std::uint32_t>(std::ceil(avg / capacity));
    return std::clamp<std::uint32_t>(secs, 1, std::max<std::uint32_t>(s.config.timeout_s, 1));
}

} // namespace tether::broker

// broker_core, agent side: registration (one connection per space, same
// instance takes over), dispatch into free slots, results, drain and loss.
#include "core/broker_core.hpp"

#include "core/core_state.hpp"

#include "tether/protocol/json_writer.hpp"
#include "tether/shared/crypto.hpp"

#include <algorithm>
#include <chrono>

namespace tether::broker {
namespace {

protocol::space_status refused(const std::string& space, std::string code, std::string message) {
    return protocol::space_status{space, false, protocol::error_info{std::move(code), std::move(message)}};
}

bool token_matches(const space_config& config, std::string_view token) {
    if (config.token_hash.empty()) {
        return false; // no token issued yet: nobody may serve it
    }
    return constant_time_equal(hash_token(token), config.token_hash);
}

} // namespace

protocol::registered_frame broker_core::register_agent(agent_conn_id conn, const protocol::register_frame& frame) {
    return register_agent(conn, frame, {});
}

protocol::registered_frame
broker_core::register_agent(agent_conn_id conn, const protocol::register_frame& frame,
                            const std::function<void(const protocol::registered_frame&)>& send_reply) {
    protocol::registered_frame reply;
    reply.heartbeat_s = limits_.heartbeat_s;
    if (frame.protocol != protocol::version) {
        for (const auto& reg : frame.spaces) {
            reply.spaces.push_back(refused(reg.space, "bad_protocol",
                                           "this broker speaks protocol version " + std::to_string(protocol::version)));
        }
        if (send_reply) {
            send_reply(reply);
        }
        return reply;
    }
    auto& owned = agents_[conn];
    if (!owned) {
        owned = std::make_unique<agent_state>();
        owned->conn = conn;
        owned->connected_since = clock_.now();
    }
    owned->info = frame.agent;
    std::vector<std::string> accepted;
    for (const auto& reg : frame.spaces) {
        space_state* s = find_space_state(reg.space);
        if (!s) {
            reply.spaces.push_back(refused(reg.space, "unknown_space", "no such space"));
            continue;
        }
        if (!token_matches(s->config, reg.token)) {
            reply.spaces.push_back(refused(reg.space, "bad_token", "the token does not match this space"));
            continue;
        }
        if (s->holder && *s->holder != conn) {
            agent_state& old = *agents_.at(*s->holder);
            if (!old.info.instance.empty() && old.info.instance == frame.agent.instance) {
                // The same agent process on a new connection: its old socket is stale.
                const agent_conn_id old_conn = old.conn;
                drop_connection(old_conn);
                effects_.close_agent(old_conn, protocol::close_normal,
                                     "replaced by a newer connection of the same agent instance");
            } else if (old.draining) {
                // The draining connection keeps what it holds; new work comes here.
                s->holder.reset();
            } else {
                reply.spaces.push_back(refused(reg.space, "space_taken", "another agent serves this space"));
                continue;
            }
        }
        agent_state& a = *agents_.at(conn);
        s->holder = conn;
        a.slots[reg.space].capacity = std::clamp<std::uint32_t>(reg.capacity, 1, limits_.max_capacity);
        a.slots[reg.space].model = reg.model;
        reply.spaces.push_back(protocol::space_status{reg.space, true, std::nullopt});
        accepted.push_back(reg.space);
    }
    if (accepted.empty() && agents_.at(conn)->slots.empty()) {
        agents_.erase(conn); // the server closes it with 4001
    }
    if (send_reply) {
        send_reply(reply);
    }
    for (const std::string& name : accepted) {
        if (space_state* s = find_space_state(name)) {
            settle(*s, 0);
        }
    }
    return reply;
}

bool broker_core::accepted_any(const protocol::registered_frame& reply) {
    return std::any_of(reply.spaces.begin(), reply.spaces.end(), [](const auto& s) { return s.ok; });
}

void broker_core::agent_lost(agent_conn_id conn) {
    drop_connection(conn);
}

void broker_core::agent_drain(agent_conn_id conn) {
    if (auto it = agents_.find(conn); it != agents_.end()) {
        it->second->draining = true;
    }
}

// Forgets a connection: its spaces lose their agent, and the requests it held
// go back to the front of their queues (in dispatch order) with their
// original deadlines, unless they used their last attempt or expired.
void broker_core::drop_connection(agent_conn_id conn) {
    auto it = agents_.find(conn);
    if (it == agents_.end()) {
        return;
    }
    std::unique_ptr<agent_state> agent = std::move(it->second);
    agents_.erase(it);
    const time_point now = clock_.now();
    for (auto& [name, sl] : agent->slots) {
        space_state* s = find_space_state(name);
        if (s && s->holder == conn) {
            s->holder.reset();
        }
        std::vector<entry*> back_to_queue;
        for (const uuid& id : sl.held) {
            entry* e = find_entry(id);
            if (!e || is_terminal(e->rec.state)) {
                continue;
            }
            e->holder.reset(); // the agent entry is gone already
            requeue_or_end(*e, s, now, back_to_queue);
        }
        if (s) {
            enqueue_front(*s, back_to_queue);
            settle(*s, 0);
        }
    }
}

// A request its agent no longer holds: back to the queue (collected in
// `back_to_queue`, the caller puts them at the front), or failed after its
// last attempt, or timed out when past its deadline or its space is gone.
void broker_core::requeue_or_end(entry& e, space_state* s, time_point now, std::vector<entry*>& back_to_queue) {
    if (e.rec.attempts >= limits_.max_attempts) {
        finish(e, request_state::failed,
               {"agent_lost", "the agent was lost " + std::to_string(e.rec.attempts) + " times"});
    } else if (e.rec.deadline <= now || !s) {
        e.rec.state = request_state::queued;
        expire(e);
    } else {
        e.rec.state = request_state::queued;
        e.rec.started_at.reset();
        e.rec.output_text.clear();
        ++counters_.requeued;
        effects_.persist(e.rec);
        emit(e, "requeued", "{\"attempts\":" + std::to_string(e.rec.attempts) + "}");
        back_to_queue.push_back(&e);
    }
}

void broker_core::revoke_registrations(std::string_view name, std::string_view code, const std::string& message) {
    std::vector<agent_conn_id> conns;
    for (const auto& [conn, agent] : agents_) {
        if (agent->slots.contains(name)) {
            conns.push_back(conn);
        }
    }
    if (conns.empty()) {
        return;
    }
    space_state* s = find_space_state(name);
    const time_point now = clock_.now();
    for (const agent_conn_id conn : conns) {
        agent_state& a = *agents_.at(conn);
        auto sl = a.slots.find(name);
        const std::vector<uuid> held = std::move(sl->second.held);
        a.slots.erase(sl);
        if (s && s->holder == conn) {
            s->holder.reset();
        }
        std::vector<entry*> back_to_queue;
        std::vector<uuid> taken_back;
        for (const uuid& id : held) {
            entry* e = find_entry(id);
            if (!e || is_terminal(e->rec.state)) {
                continue;
            }
            e->holder.reset();
            taken_back.push_back(id);
            requeue_or_end(*e, s, now, back_to_queue);
        }
        if (s) {
            enqueue_front(*s, back_to_queue);
        }
        if (a.slots.empty()) {
            agents_.erase(conn); // the server's later agent_lost(conn) is a no-op
            effects_.close_agent(conn, protocol::close_revoked, message);
        } else {
            // It still serves other spaces: stop its work on this one.
            for (const uuid& id : taken_back) {
                effects_.send_cancel(conn, id, code);
            }
            effects_.send_notice(conn, code, message + "; this connection no longer serves it");
        }
    }
    if (s) {
        settle(*s, 0);
    }
}

// Fills the free slots of the space's agent from the front of its queue.
// True when anything left the queue.
bool broker_core::dispatch(space_state& s) {
    if (!s.holder) {
        return false;
    }
    agent_state& a = *agents_.at(*s.holder);
    if (a.draining) {
        return false;
    }
    slot& sl = a.slots[s.config.name];
    const time_point now = clock_.now();
    bool moved = false;
    while (sl.held.size() < sl.capacity && !s.queue.empty()) {
        const uuid id = s.queue.front();
        s.queue.pop_front();
        moved = true;
        entry* e = find_entry(id);
        if (!e) {
            continue;
        }
        if (e->rec.deadline <= now) {
            expire(*e);
            continue;
        }
        e->rec.state = request_state::dispatched;
        ++e->rec.attempts;
        e->rec.dispatched_at = now;
        e->holder = a.conn;
        e->published_position = 0;
        sl.held.push_back(id);
        ++counters_.dispatched;
        effects_.persist(e->rec);
        effects_.send_request(a.conn, e->rec);
    }
    return moved;
}

void broker_core::on_result(agent_conn_id conn, const protocol::inference_result_frame& frame,
                            std::vector<stored_file> outputs) {
    const auto id = uuid::parse(frame.request_id);
    entry* e = id ? find_entry(*id) : nullptr;
    if (!e) {
        ++counters_.results_unknown;
        return;
    }
    if (is_terminal(e->rec.state)) {
        ++counters_.results_late;
        return;
    }
    if (e->holder != conn) {
        ++counters_.results_wrong_agent;
        return;
    }
    switch (frame.status) {
    case protocol::result_status::processing:
    case protocol::result_status::streaming:
        handle_progress(*e, frame);
        return;
    case protocol::result_status::completed:
        handle_completed(*e, frame, std::move(outputs));
        return;
    case protocol::result_status::failed: {
        protocol::error_info error = frame.error;
        if (error.code.empty()) {
            error.code = "agent_error";
        }
        const std::string space = e->rec.space;
        finish(*e, request_state::failed, std::move(error));
        if (space_state* s = find_space_state(space)) {
            settle(*s, 0);
        }
        return;
    }
    }
}

void broker_core::handle_progress(entry& e, const protocol::inference_result_frame& f) {
    const time_point now = clock_.now();
    if (e.rec.state == request_state::dispatched) {
        e.rec.state = request_state::processing;
        e.rec.started_at = now;
        effects_.persist(e.rec);
        emit(e, "processing", "{}");
    }
    if (f.status != protocol::result_status::streaming) {
        return;
    }
    if (e.rec.output_text.size() + f.delta_text.size() > limits_.max_output_bytes) {
        const agent_conn_id conn = *e.holder;
        const std::string space = e.rec.space;
        const uuid id = e.rec.id;
        finish(e, request_state::failed,
               {"output_too_large", "the output passed " + std::to_string(limits_.max_output_bytes) + " bytes"});
        effects_.send_cancel(conn, id, "output_too_large");
        if (space_state* s = find_space_state(space)) {
            settle(*s, 0);
        }
        return;
    }
    if (e.rec.state != request_state::streaming) {
        e.rec.state = request_state::streaming;
        effects_.persist(e.rec);
    }
    e.rec.output_text += f.delta_text;
    // Deltas go to the log in their own compact form (mergeable); watchers
    // get the same JSON the log replays.
    const request_event ev{e.rec.id, e.next_event_id++, "delta", delta_json(f.seq, f.delta_text)};
    e.log.append_delta(e.rec.id, ev.id, f.seq, f.delta_text);
    effects_.publish(ev);
}

void broker_core::handle_completed(entry& e, const protocol::inference_result_frame& f,
                                   std::vector<stored_file> outputs) {
    const time_point now = clock_.now();
    if (!e.rec.started_at) {
        e.rec.started_at = now;
    }
    e.rec.result_json = f.result_json;
    if (!f.output.empty() || e.rec.output_text.empty()) {
        e.rec.output_text = f.output; // else keep what was streamed
    }
    e.rec.inference_ms = f.inference_ms;
    e.rec.outputs = std::move(outputs);
    e.rec.error = {};
    const std::string space = e.rec.space;
    const auto took = e.rec.dispatched_at ? now - *e.rec.dispatched_at : std::chrono::system_clock::duration{};
    finish(e, request_state::completed, {});
    space_state* s = find_space_state(space);
    if (!s) {
        return;
    }
    // Moving average of service time, for Retry-After guesses.
    const double secs = std::chrono::duration<double>(took).count();
    s->avg_service_s = s->has_avg ? 0.8 * s->avg_service_s + 0.2 * secs : secs;
    s->has_avg = true;
    settle(*s, 0);
}

} // namespace tether::broker

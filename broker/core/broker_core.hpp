#pragma once
// The broker's heart: space registry, one FIFO queue per space, agent slots
// and the request state machine. Driven by events (submit, register, result,
// agent lost, tick) and an injected clock; it acts only through core_effects.
// No sockets, no threads, no Asio: it runs on one strand and is not thread-safe.

#include "core/core_effects.hpp"
#include "core/core_types.hpp"
#include "core/request.hpp"
#include "core/space.hpp"

#include "tether/protocol/frames.hpp"
#include "tether/shared/clock.hpp"
#include "tether/shared/ids.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tether::broker {

class event_log;

class broker_core {
  public:
    broker_core(const clock_source& clock, core_effects& effects, core_limits limits = {});
    ~broker_core();
    broker_core(const broker_core&) = delete;
    broker_core& operator=(const broker_core&) = delete;

    // ------------------------------------------------------------ spaces
    // Adds or updates a space. A new timeout applies to requests submitted later.
    // A new token hash revokes the registration made with the old token: see
    // revoke_registrations.
    void set_space(space_config config);
    // Removes a space: its queued requests fail with space_removed, those held
    // by an agent are cancelled there and fail the same way, and the
    // connections serving it lose it (revoke_registrations). False if unknown.
    bool remove_space(std::string_view name);
    // Makes every space's configuration match `configs` (the store's list):
    // adds, updates (set_space) and removes (remove_space). For changes made
    // by another process, e.g. the admin CLI against a running broker.
    void sync_spaces(const std::vector<space_config>& configs);
    const space_config* find_space(std::string_view name) const;
    std::size_t queue_length(std::string_view name) const;
    std::optional<space_view> view_space(std::string_view name) const;
    std::vector<space_view> list_spaces() const; // sorted by name

    // ------------------------------------------------------------ requests
    // Queues a request: id (if nil), created (if unset) and deadline (if unset:
    // created + timeout_s) are filled in; state becomes queued. Persists, then
    // publishes `queued`, then dispatches if the space's agent has a free slot.
    submit_outcome submit(request_record r);
    // reason goes to the agent in cancel ("user" normally). Terminal at once.
    cancel_outcome cancel(const uuid& id, std::string_view reason = "user");
    // Times out every non-terminal request whose deadline has passed.
    void tick();
    // Takes back a request whose first snapshot the store could not write:
    // the client was told 503, so it must leave no trace. It leaves the queue
    // (or its agent gets cancel "store_failed"), publishes nothing more, and
    // is forgotten. False if unknown or already terminal.
    bool withdraw(const uuid& id);
    // Cancels every non-terminal request of `username` (its account was
    // removed or disabled); `why` goes into the error message. How many.
    std::size_t cancel_requests_of(std::string_view username, std::string_view why);
    // The users who have non-terminal requests, for the revocation check.
    std::set<std::string> users_with_live_requests() const;
    // Drops finished requests from memory (retention removed them from the
    // store). Non-terminal ones are kept.
    void forget(const std::vector<uuid>& ids);
    // The earliest deadline among non-terminal requests, to arm one timer.
    std::optional<time_point> next_deadline() const;
    // On broker start, with the non-terminal requests from the store (spaces
    // must be set first). Queued ones keep their order (by created); dispatched,
    // processing and streaming ones go to the front (by created) as queued;
    // expired ones become timeout; those of unknown spaces fail (space_removed).
    void recover(std::vector<request_record> non_terminal);

    // ------------------------------------------------------------ agents
    // Handles a register frame. If no entry of the answer is ok, the server
    // sends it and closes with 4001 (see accepted_any). Dispatches afterwards.
    protocol::registered_frame register_agent(agent_conn_id conn, const protocol::register_frame& frame);
    // The same, but calls send_reply with the answer before dispatching queued
    // requests to the new connection, so that a server which queues frames in
    // call order sends `registered` before the first inference_request.
    protocol::registered_frame register_agent(agent_conn_id conn, const protocol::register_frame& frame,
                                              const std::function<void(const protocol::registered_frame&)>& send_reply);
    static bool accepted_any(const protocol::registered_frame& reply);
    // The connection is gone (close, error, missed heartbeats). Idempotent.
    void agent_lost(agent_conn_id conn);
    // The agent sent drain: no new requests for it; in-flight ones finish.
    // Another agent may now register its spaces.
    void agent_drain(agent_conn_id conn);
    // An inference_result from that connection. `outputs` are the output files
    // the session already stored on disk for this result (completed only).
    void on_result(agent_conn_id conn, const protocol::inference_result_frame& frame,
                   std::vector<stored_file> outputs = {});

    // ------------------------------------------------------------ watchers
    // The server says a request has (or no longer has) SSE watchers; counted.
    // watch() publishes a fresh queued event if the position moved unseen.
    // unwatch() only lowers the count, so it is safe to call from publish().
    void watch(const uuid& id);
    void unwatch(const uuid& id);

    // ------------------------------------------------------------ queries
    // Live requests and the most recent finished ones; nullptr otherwise.
    const request_record* find(const uuid& id) const;
    // 1-based queue position while queued.
    std::optional<std::size_t> position(const uuid& id) const;
    // Events with id > last_event_id (0: all kept), for SSE replay. Deltas may
    // have been merged when the log filled up; a merged event carries the id
    // of its last part, so a watcher whose Last-Event-ID falls inside a merged
    // run gets that run's text again. Once completed, the deltas are dropped:
    // the completed event carries the whole result. A request reloaded by
    // recover() starts a new log under this start's epoch: a Last-Event-ID of
    // an earlier start is below every id of it, so the watcher gets the
    // current state (its position, requeued) and what follows, never an
    // event twice; the terminal event keeps its id across starts
    // (request_record::last_event_id).
    std::vector<request_event> events_since(const uuid& id, std::uint64_t last_event_id) const;
    std::vector<agent_view> list_agents() const; // by conn id
    // Which connection holds a request, if any (sessions use it to accept blobs).
    std::optional<agent_conn_id> holder_of(const uuid& id) const;
    const core_counters& counters() const { return counters_; }
    const core_limits& limits() const { return limits_; }

  private:
    struct entry;
    struct space_state;
    struct agent_state;
    struct slot;

    entry* find_entry(const uuid& id);
    const entry* find_entry(const uuid& id) const;
    space_state* find_space_state(std::string_view name);
    const space_state* find_space_state(std::string_view name) const;

    void emit(entry& e, std::string type, std::string data_json);
    void publish_position(entry& e, std::size_t pos);
    void publish_positions(space_state& s, std::size_t from_index);
    void settle(space_state& s, std::size_t from_index);
    bool dispatch(space_state& s);
    std::size_t remove_from_queue(space_state& s, const uuid& id);
    void enqueue_front(space_state& s, const std::vector<entry*>& es);
    void expire(entry& e);
    void finish(entry& e, request_state state, protocol::error_info error);
    void release_holder(entry& e);
    void drop_connection(agent_conn_id conn);
    // Takes space `name` away from every connection serving it (held
    // requests requeued as for a lost agent, and cancelled there); a
    // connection left with no space is closed with close_revoked, one that
    // still serves others gets a notice `code`.
    void revoke_registrations(std::string_view name, std::string_view code, const std::string& message);
    void requeue_or_end(entry& e, space_state* s, time_point now, std::vector<entry*>& back_to_queue);
    entry& add_entry(request_record r);
    void cancel_entry(entry& e, std::string_view reason, protocol::error_info error);
    void retain_finished(const uuid& id);
    void handle_progress(entry& e, const protocol::inference_result_frame& f);
    void handle_completed(entry& e, const protocol::inference_result_frame& f, std::vector<stored_file> outputs);
    std::uint32_t retry_after(const space_state& s) const;

    const clock_source& clock_;
    core_effects& effects_;
    core_limits limits_;
    core_counters counters_;

    std::map<std::string, std::unique_ptr<space_state>, std::less<>> spaces_;
    std::map<agent_conn_id, std::unique_ptr<agent_state>> agents_;
    std::unordered_map<uuid, std::unique_ptr<entry>, uuid_hash> requests_;
    std::set<std::pair<time_point, uuid>> deadlines_; // non-terminal requests
    std::deque<uuid> finished_;                       // retained finished, oldest first
};

} // namespace tether::broker

#pragma once
// Runs the broker core on a strand of its own and carries out its effects:
// frames to agent sessions, snapshots to the store, events to SSE channels.
// It is also the agent_hub the agent sessions report to. Everything that
// touches the core goes through post() or call(); nothing here blocks the strand.

#include "api/core_access.hpp"
#include "api/metrics_latency.hpp"
#include "core/broker_core.hpp"
#include "net/agent_hub.hpp"
#include "net/sse_channel.hpp"
#include "store/blob_store.hpp"
#include "store/store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace tether::broker::app {

class core_host final : public api::core_access,
                        public core_effects, public net::agent_hub, public std::enable_shared_from_this<core_host> {
public:
    core_host(boost::asio::io_context& ioc, store& st, const blob_store& blobs, const clock_source& clock,
              core_limits limits, api::latency_metrics* latency = nullptr);

    // api::core_access (any thread)
    void post(std::function<void(broker_core&)> f) override;
    std::optional<space_config> find_space_config(std::string_view name) const override;
    void submit(request_record r, std::function<void(submit_outcome, bool durable)> done) override;
    void submit_observed(request_record r, api::event_observer observer,
                         std::function<void(submit_outcome, bool durable)> done) override;
    void add_watcher(broker_core& core, const uuid& id, std::shared_ptr<net::sse_channel> channel) override;
    api::outcome_counts outcomes() const override { return outcomes_; }

    // Sends going-away to every agent (shutdown).
    void close_all_agents(std::uint16_t code, std::string reason);

    // core_effects (core strand)
    void send_request(agent_conn_id conn, const request_record& r) override;
    void send_cancel(agent_conn_id conn, const uuid& request_id, std::string_view reason) override;
    void close_agent(agent_conn_id conn, std::uint16_t code, std::string_view reason) override;
    void send_notice(agent_conn_id conn, std::string_view code, std::string_view message) override;
    void persist(const request_record& r) override;
    void publish(const request_event& e) override;
    void space_changed(std::string_view name, const space_config* config) override;

    // agent_hub (any thread)
    agent_conn_id next_conn_id() override { return ++next_conn_; }
    void on_register(std::shared_ptr<net::agent_link> link, protocol::register_frame frame,
                     std::function<void(protocol::registered_frame)> reply) override;
    void on_result(agent_conn_id conn, protocol::inference_result_frame frame,
                   std::vector<stored_file> outputs) override;
    void on_drain(agent_conn_id conn) override;
    void on_closed(agent_conn_id conn) override;
    blob_writer open_output(const uuid& request, std::uint32_t blob, std::uint64_t max_bytes,
                            std::error_code& ec) override;

private:
    void rearm();

    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    boost::asio::steady_timer timer_;
    std::optional<time_point> armed_for_;
    store& store_;
    const blob_store& blobs_;
    const clock_source& clock_;
    api::latency_metrics* latency_;
    broker_core core_;
    std::atomic<agent_conn_id> next_conn_{0};
    // Copy of every space's config for find_space_config (any thread).
    mutable std::mutex spaces_mu_;
    std::map<std::string, space_config, std::less<>> spaces_;
    // Core strand only:
    std::map<agent_conn_id, std::shared_ptr<net::agent_link>> links_;
    std::unordered_map<uuid, std::vector<std::shared_ptr<net::sse_channel>>, uuid_hash> watchers_;
    std::unordered_map<uuid, request_store::durable_callback, uuid_hash> durable_waiters_;
    api::outcome_counts outcomes_;
    std::unordered_map<uuid, std::vector<api::event_observer>, uuid_hash> observers_;
};

} // namespace tether::broker::app

#pragma once
// One connection to the broker, from upgrade to close: register the spaces,
// take inference requests (and their input blobs), hand them to the backend
// on the worker pool, send results back in order, honour cancel and drain.
// Everything here runs on the connection's strand; backends report through a
// sink that posts back to it. It does not reconnect: agent_runner decides
// what happens after a connection ends.

#include "backends/backend.hpp"
#include "backends/worker_pool.hpp"
#include "net/blob_assembler.hpp"
#include "net/ws_transport.hpp"

#include "tether/protocol/frames.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace tether::agent {

struct backend_event;

struct connection_settings {
    broker_url url;
    protocol::register_frame registration; // sent as the first frame
    blob_limits blobs;
    std::chrono::seconds register_timeout{10};
    // When only some spaces were refused with space_taken, reconnect (while
    // idle) after this long to try them again: the holder may be a stale socket.
    std::chrono::seconds retry_taken_after{30};
};

// How a connection ended, for the runner.
struct connection_outcome {
    enum class kind {
        lost,    // never connected, dropped, timed out, closed by the broker: try again
        refused, // every space refused with space_taken: try again later
        fatal,   // bad_token / unknown_space / bad_protocol: do not retry
        drained, // closed by us after drain (or shutdown)
    };
    kind what = kind::lost;
    std::string message;
    bool registered = false;
    std::chrono::steady_clock::duration uptime{}; // since the upgrade, zero if none
};

class agent_connection : public std::enable_shared_from_this<agent_connection> {
  public:
    using finished_handler = std::function<void(connection_outcome)>;

    // `tls` null for ws://. `backend` and `pool` must outlive every job.
    agent_connection(boost::asio::io_context& ioc, boost::asio::ssl::context* tls, connection_settings settings,
                     backend& be, worker_pool& pool, finished_handler on_finished);
    ~agent_connection();

    void start();
    // Send drain; close 1000 once in-flight requests finish or `grace` passes.
    void drain(std::chrono::milliseconds grace);
    // Drop at once (second signal): cancels every job.
    void abort();

    // Called (through the strand) by the sink of a running job.
    void on_backend_event(const std::string& request_id, const std::shared_ptr<backend_event>& ev);

  private:
    struct active_request;
    enum class state { connecting, registering, serving, draining, closing, done };

    void on_connected(boost::system::error_code ec);
    void read_next();
    void on_message(bool binary, const std::string& data);
    void on_text(const std::string& text);
    void on_binary(const std::string& data);
    void on_registered(const protocol::registered_frame& f);
    void on_request(protocol::inference_request_frame f);
    void on_cancel(const protocol::cancel_frame& f);
    void start_job(active_request& r);
    void fail_request(const std::string& id, const std::string& code, const std::string& message);
    void send_text(std::string text);
    void send_binary(std::string data);
    void write_next();
    void maybe_finish_drain();
    void arm_retry_taken();
    void close_with(std::uint16_t code);
    void finish(connection_outcome::kind what, std::string message);

    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    ws_transport transport_;
    connection_settings settings_;
    backend& backend_;
    worker_pool& pool_;
    finished_handler on_finished_;
    boost::asio::steady_timer register_timer_;
    boost::asio::steady_timer grace_timer_;
    boost::asio::steady_timer retry_taken_timer_;

    state state_ = state::connecting;
    std::chrono::steady_clock::time_point connected_at_{};
    bool registered_ = false;
    std::set<std::string> accepted_spaces_;
    std::map<std::string, std::unique_ptr<active_request>> requests_;
    struct outgoing {
        bool binary;
        std::string data;
    };
    std::deque<outgoing> writes_;
    bool writing_ = false;
    std::optional<std::uint16_t> pending_close_; // sent once the write queue is empty
    connection_outcome::kind close_kind_ = connection_outcome::kind::drained;
    std::string close_message_;
};

} // namespace tether::agent

#pragma once
// Keeps one agent connected for the life of the process: dials the broker,
// reconnects after every loss with backoff, stops for good on a refusal that
// retrying cannot fix, and turns SIGTERM/SIGINT into drain and a clean exit.
// Owns the network thread (one io_context); inference runs on the pool.

#include "backends/backend.hpp"
#include "backends/worker_pool.hpp"
#include "net/agent_connection.hpp"
#include "net/backoff_policy.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <optional>

namespace tether::agent {

// Exit statuses of tether-agent (documented in docs/operator.md).
inline constexpr int exit_ok = 0;
inline constexpr int exit_fatal = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_refused = 3;

struct runner_settings {
    connection_settings connection;
    std::chrono::milliseconds grace{30'000};
    backoff_settings backoff;
    std::string ca_file;
    bool insecure = false;
};

class agent_runner {
  public:
    // Throws std::invalid_argument for a bad --ca-file (a configuration
    // mistake, exit 2) and std::runtime_error when TLS cannot be set up.
    agent_runner(runner_settings settings, backend& be, std::size_t workers);
    ~agent_runner();

    // Runs until stopped; returns the process exit status.
    int run();

  private:
    void connect();
    void on_finished(connection_outcome out);
    void on_signal(int sig);
    void stop(int code);

    runner_settings settings_;
    boost::asio::io_context ioc_;
    std::optional<boost::asio::ssl::context> tls_;
    backend& backend_;
    boost::asio::signal_set signals_;
    boost::asio::steady_timer retry_timer_;
    backoff_policy backoff_;
    std::shared_ptr<agent_connection> conn_;
    bool stopping_ = false;
    int exit_code_ = exit_ok;
    // Declared last so it is destroyed first: its jobs post to ioc_.
    worker_pool pool_;
};

} // namespace tether::agent

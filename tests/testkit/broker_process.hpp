#pragma once
// The real tether-broker executable under test: a fresh temp data dir, a free
// port on 127.0.0.1, admin subcommands run before serving, start (waiting,
// bounded, for /healthz), SIGTERM / SIGKILL / restart on the same data. Its
// stderr goes to a file that failure messages quote. The destructor kills the
// process and removes every file it made.

#include "testkit/child_process.hpp"
#include "testkit/temp_dir.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tether::testkit {

using namespace std::chrono_literals;

class agent_client;
class http_client;

struct space_options {
    std::string features = "prompt";
    int timeout_s = 120;
    int queue_limit = 1000;
    std::string description;
};

// Where the executable and the web folder are. The test executables get
// TETHER_BROKER_BIN / TETHER_SOURCE_DIR as compile definitions (the testkit
// library does not), so build_broker_paths() exists only in their code.
struct broker_paths {
    std::string bin;
    std::string web_dir;
};
#if defined(TETHER_BROKER_BIN) && defined(TETHER_SOURCE_DIR)
inline broker_paths build_broker_paths() { return {TETHER_BROKER_BIN, TETHER_SOURCE_DIR "/web"}; }
#endif

class broker_process {
public:
    explicit broker_process(broker_paths paths);
    ~broker_process();
    broker_process(const broker_process&) = delete;
    broker_process& operator=(const broker_process&) = delete;

    // ---- admin subcommands (they open the store themselves; run them while stopped).
    // Each throws std::runtime_error, quoting the output, when the command fails.
    void add_user(const std::string& name, const std::string& password, bool admin = false);
    // Returns the space's agent token, parsed from what the command printed.
    std::string add_space(const std::string& name, const space_options& options = {});
    std::string add_api_key(const std::string& user);
    // Any subcommand, e.g. {"space", "list"}; "--data DIR" is appended.
    run_result admin(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

    // ---- the server
    // `tether-broker serve --listen 127.0.0.1:PORT --data DIR --web SRC/web EXTRA...`;
    // returns once GET /healthz answers 200. Throws (with the broker's stderr)
    // when it exits or does not answer within 15 s.
    void start(const std::vector<std::string>& extra_args = {});
    // SIGTERM, wait up to `timeout`, then SIGKILL. Returns how it ended.
    exit_status stop(std::chrono::milliseconds timeout = 10s);
    exit_status kill9();
    // start() again on the same data dir and port with the same extra args.
    void restart();
    bool running();

    const std::string& host() const { return host_; }
    std::uint16_t port() const { return port_; }
    const std::string& data_dir() const { return data_dir_; }
    // Everything the broker wrote on stderr so far (tail, for failure messages).
    std::string stderr_tail(std::size_t max_bytes = 4000) const;
    std::string ws_url() const;

    http_client client() const;
    std::unique_ptr<agent_client> agent() const;

private:
    broker_paths paths_;
    temp_dir dir_;
    std::string data_dir_;
    std::string stderr_path_;
    std::string stdout_path_;
    std::string host_ = "127.0.0.1";
    std::uint16_t port_ = 0;
    std::vector<std::string> extra_args_;
    child_process child_;
};

// A 127.0.0.1 TCP port that was free a moment ago (bound to port 0, then released).
std::uint16_t free_port();

} // namespace tether::testkit

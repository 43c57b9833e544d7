#pragma once
// An HTTP server written for the tests of --upstream: it listens on
// 127.0.0.1, hands each request to the test's handler on a thread of its own,
// and lets the handler misbehave as real upstreams do (answer late, reset the
// connection mid-stream, stream forever, send too much). It records every
// request and whether the client closed a connection the handler was still
// writing to, which is how a test sees that cancellation reached it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace tether::testkit {

struct upstream_request {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers; // names in lower case
    std::string body;
    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string{} : it->second;
    }
};

class upstream_conn {
  public:
    explicit upstream_conn(int fd, const std::atomic<bool>& stopping) : fd_(fd), stopping_(stopping) {}
    // False once the client has gone (or the server is stopping).
    bool send(std::string_view bytes);
    // An HTTP/1.1 head with chunked encoding; then chunk() each piece, end().
    bool chunked_head(int status, const std::string& content_type);
    bool chunk(std::string_view data);
    bool end();
    // Sleeps up to `d`, in steps; false when the client went meanwhile.
    bool pause(std::chrono::milliseconds d);
    // Closes with a TCP reset (SO_LINGER 0), as a crashed server does.
    void reset();
    bool client_gone() const { return gone_; }

  private:
    int fd_;
    const std::atomic<bool>& stopping_;
    bool gone_ = false;
    friend class test_upstream;
    bool reset_ = false;
};

// A whole response with Content-Length.
std::string http_answer(int status, const std::string& content_type, std::string_view body,
                        const std::string& extra_headers = "");

class test_upstream {
  public:
    using handler = std::function<void(const upstream_request&, upstream_conn&)>;
    // port 0: any free port.
    explicit test_upstream(handler h, std::uint16_t port = 0);
    ~test_upstream();
    test_upstream(const test_upstream&) = delete;
    test_upstream& operator=(const test_upstream&) = delete;

    std::uint16_t port() const { return port_; }
    // Serve further requests on a connection after a handler returns (HTTP
    // keep-alive); by default each connection is closed after one.
    void keep_alive(bool on) { keep_alive_ = on; }
    std::string url(const std::string& path = "") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
    std::vector<upstream_request> requests() const;
    // Connections whose client closed while the handler was still writing.
    int client_closes() const { return client_closes_.load(); }
    // Connections accepted (a probe that only connects counts too).
    int connections() const { return connections_.load(); }

  private:
    void accept_loop();
    void serve(int fd);

    handler handler_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> keep_alive_{false};
    std::atomic<int> client_closes_{0};
    std::atomic<int> connections_{0};
    mutable std::mutex mutex_;
    std::vector<upstream_request> requests_;
    std::vector<std::thread> threads_;
    std::vector<int> open_fds_;
    std::thread acceptor_;
};

} // namespace tether::testkit

#pragma once
// Reads a text/event-stream response incrementally on a background thread and
// hands its events to the test one at a time, each wait bounded. Sends the
// caller's cookie / Bearer header and, when given, Last-Event-ID.

#include "testkit/http_client.hpp"
#include "testkit/json_doc.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace tether::testkit {

struct sse_event {
    std::string id;    // this event's own id: field ("" when it had none)
    bool has_id = false;
    std::string event; // "message" when the block had no event: field
    std::string data;  // data: lines joined with '\n'
    bool has_data = false;
    json_doc json() const { return json_doc::parse(data); }
};

class sse_reader {
public:
    // Opens GET `target` with `auth`'s cookie / Bearer header; with a
    // `json_body`, POSTs it instead (streaming APIs such as chat completions).
    sse_reader(const http_client& auth, const std::string& target, const std::string& last_event_id = {},
               const std::string& json_body = {});
    ~sse_reader();
    sse_reader(const sse_reader&) = delete;
    sse_reader& operator=(const sse_reader&) = delete;

    // Waits for the response header; the status code, or 0 when none came in time.
    int wait_status(std::chrono::milliseconds timeout);
    std::string content_type();

    // The next event not yet returned, waiting up to `timeout`.
    std::optional<sse_event> next(std::chrono::milliseconds timeout);
    // Skips events until one named `name` (skipped ones stay in seen()).
    std::optional<sse_event> wait_for(const std::string& name, std::chrono::milliseconds timeout);
    // Every event received so far, in order (returned or not).
    std::vector<sse_event> seen();
    // Names of seen() events, for failure messages: "queued,processing,delta".
    std::string seen_names();
    // True once the server ended the stream (or the connection failed).
    bool wait_ended(std::chrono::milliseconds timeout);
    // Raw body bytes received so far (comments included), for failure messages.
    std::string raw_body();

private:
    struct state;
    std::shared_ptr<state> st_;
    std::thread thread_;
};

} // namespace tether::testkit

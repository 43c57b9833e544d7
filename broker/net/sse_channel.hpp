#pragma once
// A Server-Sent Events stream as producers see it: thread-safe, usable before
// the connection has switched to SSE (events queue until a writer attaches).
// Does no I/O itself; the sse_session that attaches writes the bytes.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace tether::broker::net {

// Implemented by sse_session: takes formatted bytes, writes them in order.
class sse_writer {
public:
    virtual ~sse_writer() = default;
    virtual void post_bytes(std::string bytes) = 0;
    virtual void post_close() = 0; // after what was posted is written
};

class sse_channel {
public:
    // "id: N\nevent: NAME\ndata: DATA\n\n"; newlines in data become extra data: lines.
    static std::string format_event(std::uint64_t id, std::string_view name, std::string_view data);

    void push(std::string formatted);
    void push_event(std::uint64_t id, std::string_view name, std::string_view data) {
        push(format_event(id, name, data));
    }
    // No more events: the stream closes once the queued ones are written.
    void finish();
    // The client went away (or the stream closed); producers may forget it.
    bool closed() const;

    // For sse_session.
    void attach(const std::shared_ptr<sse_writer>& writer);
    void detach();

private:
    mutable std::mutex mutex_;
    std::weak_ptr<sse_writer> writer_;
    std::vector<std::string> pending_;
    bool attached_ = false;
    bool finished_ = false;
    bool closed_ = false;
};

} // namespace tether::broker::net

#include "net/sse_channel.hpp"

#include <fmt/format.h>

namespace tether::broker::net {

std::string sse_channel::format_event(std::uint64_t id, std::string_view name, std::string_view data) {
    std::string out = fmt::format("id: {}\nevent: {}\n", id, name);
    // A raw newline in data would end the field; split it over data: lines.
    std::size_t start = 0;
    while (true) {
        auto nl = data.find_first_of("\r\n", start);
        out += "data: ";
        out.append(data.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
        out += '\n';
        if (nl == std::string_view::npos) break;
        start = nl + 1;
        if (data[nl] == '\r' && start < data.size() && data[start] == '\n') ++start;
    }
    out += '\n';
    return out;
}

// The writer is called with the mutex held, here and in attach(): the order
// of the posts must be the order of the calls. Without it, attach() (on the
// session's thread) could post the queued events after a finish() from the
// core's thread had already posted the close, and the session, closing,
// dropped them: a stream that ended after `queued`, or with no event at all
// (about 5 in a million streams under load). post_bytes/post_close only
// queue work on the session's executor and never call back in here.
void sse_channel::push(std::string formatted) {
    std::lock_guard lock(mutex_);
    if (closed_ || finished_) return;
    if (!attached_) {
        pending_.push_back(std::move(formatted));
        return;
    }
    auto w = writer_.lock();
    if (!w) {
        closed_ = true;
        return;
    }
    w->post_bytes(std::move(formatted));
}

void sse_channel::finish() {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    finished_ = true;
    if (!attached_) return;
    if (auto w = writer_.lock()) w->post_close();
}

bool sse_channel::closed() const {
    std::lock_guard lock(mutex_);
    return closed_ || finished_;
}

void sse_channel::attach(const std::shared_ptr<sse_writer>& writer) {
    std::lock_guard lock(mutex_);
    writer_ = writer;
    attached_ = true;
    for (auto& p : pending_) writer->post_bytes(std::move(p));
    pending_.clear();
    if (finished_) writer->post_close();
}

void sse_channel::detach() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    writer_.reset();
    pending_.clear();
}

} // namespace tether::broker::net

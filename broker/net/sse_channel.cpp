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

void sse_channel::push(std::string formatted) {
    std::shared_ptr<sse_writer> w;
    {
        std::lock_guard lock(mutex_);
        if (closed_ || finished_) return;
        if (!attached_) {
            pending_.push_back(std::move(formatted));
            return;
        }
        w = writer_.lock();
        if (!w) {
            closed_ = true;
            return;
        }
    }
    w->post_bytes(std::move(formatted));
}

void sse_channel::finish() {
    std::shared_ptr<sse_writer> w;
    {
        std::lock_guard lock(mutex_);
        if (finished_) return;
        finished_ = true;
        if (!attached_) return;
        w = writer_.lock();
    }
    if (w) w->post_close();
}

bool sse_channel::closed() const {
    std::lock_guard lock(mutex_);
    return closed_ || finished_;
}

void sse_channel::attach(const std::shared_ptr<sse_writer>& writer) {
    std::vector<std::string> pending;
    bool finished = false;
    {
        std::lock_guard lock(mutex_);
        writer_ = writer;
        attached_ = true;
        pending.swap(pending_);
        finished = finished_;
    }
    for (auto& p : pending) writer->post_bytes(std::move(p));
    if (finished) writer->post_close();
}

void sse_channel::detach() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    writer_.reset();
    pending_.clear();
}

} // namespace tether::broker::net

#include "net/sse_session.hpp"

#include "net/http_session.hpp"
#include "net/stream_ops.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>

#include <array>
#include <deque>
#include <string>
#include <vector>

namespace tether::broker::net {
namespace {

namespace beast = boost::beast;
namespace asio = boost::asio;
using error_code = beast::error_code;

template <class Stream>
class sse_session final : public sse_writer, public std::enable_shared_from_this<sse_session<Stream>> {
public:
    sse_session(Stream stream, std::shared_ptr<sse_channel> channel, std::shared_ptr<const session_context> ctx,
                connection_ticket ticket)
        : stream_(std::move(stream)), channel_(std::move(channel)), ctx_(std::move(ctx)),
          ticket_(std::move(ticket)), timer_(stream_.get_executor()), linger_(stream_.get_executor()) {
        ++ctx_->counters->sse_streams;
    }
    ~sse_session() override { --ctx_->counters->sse_streams; }

    void run() {
        asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
            self->arm_keepalive();
            self->watch_peer();
            self->channel_->attach(self);
        });
    }

    void post_bytes(std::string bytes) override {
        asio::post(stream_.get_executor(), [self = this->shared_from_this(), b = std::move(bytes)]() mutable {
            self->enqueue(std::move(b));
        });
    }
    void post_close() override {
        asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
            self->closing_ = true;
            if (!self->writing_) self->shut();
        });
    }

private:
    void enqueue(std::string b) {
        if (done_ || closing_) return;
        queue_.push_back(std::move(b));
        if (!writing_) write_next();
    }

    // Everything queued goes out in one gather write: a burst of events (the
    // replay when a stream starts, or processing + deltas + completed from a
    // fast agent) costs one sendmsg, not one each.
    void write_next() {
        if (queue_.empty()) {
            if (closing_) shut();
            return;
        }
        writing_ = true;
        inflight_.swap(queue_);
        buffers_.clear();
        for (const auto& b : inflight_) buffers_.push_back(asio::buffer(b));
        beast::get_lowest_layer(stream_).expires_after(ctx_->limits.write_timeout);
        asio::async_write(stream_, buffers_, [self = this->shared_from_this()](error_code ec, std::size_t) {
            self->writing_ = false;
            self->inflight_.clear();
            if (ec) return self->fail();
            beast::get_lowest_layer(self->stream_).expires_never();
            self->write_next();
        });
    }

    void arm_keepalive() {
        timer_.expires_after(ctx_->limits.sse_keepalive);
        timer_.async_wait([self = this->shared_from_this()](error_code ec) {
            if (ec || self->done_) return;
            self->enqueue(": keepalive\n\n");
            self->arm_keepalive();
        });
    }

    // The client sends nothing on an event stream; a completed read means it
    // closed (or misbehaved): either way the stream ends.
    void watch_peer() {
        stream_.async_read_some(asio::buffer(sink_), [self = this->shared_from_this()](error_code ec, std::size_t) {
            if (self->done_) {
                // The stream already ended on our side and the client has now
                // closed too: release the socket (and its connection slot) at
                // once instead of waiting out the linger timer.
                if (ec) self->linger_.cancel();
                return;
            }
            if (!ec) return self->watch_peer();
            self->fail();
        });
    }

    void fail() {
        if (done_) return;
        done_ = true;
        channel_->detach();
        timer_.cancel();
        beast::get_lowest_layer(stream_).close();
    }

    void shut() {
        if (done_) return;
        done_ = true;
        channel_->detach();
        timer_.cancel();
        shutdown_stream(stream_, this->shared_from_this());
        // Give the client up to 2 s to read the end and close; its close
        // (seen by watch_peer) cuts this short. Either way the socket closes,
        // which ends the pending read and frees the connection slot.
        linger_.expires_after(std::chrono::seconds(2));
        linger_.async_wait([self = this->shared_from_this()](error_code) { beast::get_lowest_layer(self->stream_).close(); });
    }

    Stream stream_;
    std::shared_ptr<sse_channel> channel_;
    std::shared_ptr<const session_context> ctx_;
    connection_ticket ticket_;
    asio::steady_timer timer_;
    asio::steady_timer linger_; // bounds how long a finished stream waits for the client to close
    std::deque<std::string> queue_;    // waiting for the write in progress
    std::deque<std::string> inflight_; // being written; buffers_ point into it
    std::vector<asio::const_buffer> buffers_;
    std::array<char, 512> sink_{};
    bool writing_ = false;
    bool closing_ = false;
    bool done_ = false;
};

} // namespace

template <class Stream>
void start_sse_session(Stream stream, std::shared_ptr<sse_channel> channel, std::shared_ptr<const session_context> ctx,
                       connection_ticket ticket) {
    std::make_shared<sse_session<Stream>>(std::move(stream), std::move(channel), std::move(ctx), std::move(ticket))
        ->run();
}

template void start_sse_session<plain_stream>(plain_stream, std::shared_ptr<sse_channel>,
                                              std::shared_ptr<const session_context>, connection_ticket);
template void start_sse_session<tls_stream>(tls_stream, std::shared_ptr<sse_channel>,
                                            std::shared_ptr<const session_context>, connection_ticket);

} // namespace tether::broker::net

#include "net/agent_session.hpp"

#include "net/agent_hub.hpp"
#include "net/http_session.hpp"

#include "tether/protocol/blob_header.hpp"
#include "tether/protocol/codec.hpp"
#include "tether/shared/log.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <cstdio>
#include <deque>
#include <map>
#include <set>

namespace tether::broker::net {
namespace {

namespace beast = boost::beast;
namespace asio = boost::asio;
namespace websocket = beast::websocket;
using error_code = beast::error_code;

struct outgoing {
    enum class kind { text, file, close } what = kind::text;
    std::string data;        // text: the frame; close: the reason
    std::uint16_t code = 0;  // close
    // file: streamed chunk by chunk
    uuid request;
    std::uint32_t blob = 0;
    std::string path;
    std::FILE* file = nullptr;
};

template <class Stream>
class agent_session final : public agent_link, public std::enable_shared_from_this<agent_session<Stream>> {
public:
    agent_session(Stream stream, std::shared_ptr<const session_context> ctx, connection_ticket ticket)
        : ws_(std::move(stream)), ctx_(std::move(ctx)), ticket_(std::move(ticket)),
          register_timer_(ws_.get_executor()), conn_(ctx_->agents->next_conn_id()) {
        ++ctx_->counters->agent_connections;
    }
    ~agent_session() override {
        --ctx_->counters->agent_connections;
        for (auto& o : queue_)
            if (o.file != nullptr) std::fclose(o.file);
    }

    void run(http::request<http::empty_body> upgrade) {
        asio::dispatch(ws_.get_executor(), [self = this->shared_from_this(), req = std::move(upgrade)]() mutable {
            self->accept(std::move(req));
        });
    }

    agent_conn_id conn() const override { return conn_; }

    void send_request(std::string frame_text, const uuid& request, std::vector<stored_file> inputs) override {
        asio::post(ws_.get_executor(), [self = this->shared_from_this(), t = std::move(frame_text), request,
                                        in = std::move(inputs)]() mutable {
            self->held_.insert(request);
            self->enqueue_text(std::move(t));
            for (auto& f : in) {
                outgoing o;
                o.what = outgoing::kind::file;
                o.request = request;
                o.blob = f.blob;
                o.path = f.path;
                self->enqueue(std::move(o));
            }
        });
    }

    void send_cancel(std::string frame_text, const uuid& request) override {
        asio::post(ws_.get_executor(), [self = this->shared_from_this(), t = std::move(frame_text), request]() mutable {
            self->forget(request);
            self->enqueue_text(std::move(t));
        });
    }

    void send_text(std::string frame_text) override {
        asio::post(ws_.get_executor(), [self = this->shared_from_this(), t = std::move(frame_text)]() mutable {
            self->enqueue_text(std::move(t));
        });
    }

    void close(std::uint16_t code, std::string reason) override {
        asio::post(ws_.get_executor(), [self = this->shared_from_this(), code, r = std::move(reason)]() mutable {
            self->enqueue_close(code, std::move(r));
        });
    }

private:
    void accept(http::request<http::empty_body> req) {
        auto heartbeat = std::chrono::seconds(ctx_->limits.heartbeat_s);
        websocket::stream_base::timeout opt{};
        opt.handshake_timeout = std::chrono::seconds(10);
        // Beast pings after half the idle time and drops the peer after the
        // whole of it: ping every heartbeat, dead after two silent intervals.
        opt.idle_timeout = 2 * heartbeat;
        opt.keep_alive_pings = true;
        ws_.set_option(opt);
        ws_.read_message_max(ctx_->limits.max_text_frame + protocol::blob_header_size +
                             (ctx_->limits.max_blob_chunk > ctx_->limits.max_text_frame
                                  ? ctx_->limits.max_blob_chunk - ctx_->limits.max_text_frame
                                  : 0));
        ws_.set_option(websocket::stream_base::decorator(
            [](websocket::response_type& res) { res.set(http::field::server, "tether-broker"); }));
        ws_.async_accept(req, [self = this->shared_from_this()](error_code ec) {
            if (ec) return self->finish();
            self->accepted_ = true;
            self->arm_register_timer();
            self->read_next();
        });
    }

    void arm_register_timer() {
        register_timer_.expires_after(ctx_->limits.register_timeout);
        register_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
            if (ec || self->register_sent_) return;
            log::warn("agent conn {}: no register within the time limit", self->conn_);
            self->enqueue_close(protocol::close_protocol_violation, "register timeout");
        });
    }

    void read_next() {
        ws_.async_read(buffer_, [self = this->shared_from_this()](error_code ec, std::size_t n) {
            self->on_read(ec, n);
        });
    }

    void on_read(error_code ec, std::size_t n) {
        if (ec) {
            if (ec != websocket::error::closed)
                log::info("agent conn {}: connection ended: {}", conn_, ec.message());
            return finish();
        }
        ++ctx_->counters->frames_in;
        ctx_->counters->bytes_in += n;
        auto data = beast::buffers_to_string(buffer_.data());
        buffer_.consume(buffer_.size());
        if (ws_.got_text()) on_text(data);
        else on_binary(data);
        if (!closing_) read_next();
    }

    void violation(std::string_view code, std::string_view message) {
        protocol::error_frame f{std::string(code), std::string(message)};
        enqueue_text(protocol::encode(f));
        if (++violations_ >= ctx_->limits.max_violations)
            enqueue_close(protocol::close_protocol_violation, "too many protocol violations");
    }

    void on_text(const std::string& text) {
        protocol::parse_limits limits;
        limits.max_frame_bytes = ctx_->limits.max_text_frame;
        limits.max_string_bytes = ctx_->limits.max_text_frame;
        auto parsed = protocol::parse_agent_frame(text, limits);
        if (!parsed) {
            const auto& err = parsed.error();
            if (err.code == protocol::parse_errc::too_large)
                return enqueue_close(protocol::close_too_big, "frame too large");
            if (!register_sent_) return enqueue_close(protocol::close_protocol_violation, "expected register");
            return violation(err.code == protocol::parse_errc::unknown_type ? "unknown_type" : "bad_frame",
                             err.message);
        }
        auto& frame = parsed.value();
        if (auto* reg = std::get_if<protocol::register_frame>(&frame)) {
            if (register_sent_) return violation("bad_frame", "already registered");
            register_sent_ = true;
            register_timer_.cancel();
            auto self = this->shared_from_this();
            ctx_->agents->on_register(self, std::move(*reg), [self](protocol::registered_frame reply) {
                asio::post(self->ws_.get_executor(), [self, r = std::move(reply)]() mutable { self->on_registered(r); });
            });
            return;
        }
        if (!registered_) {
            if (!register_sent_) return enqueue_close(protocol::close_protocol_violation, "expected register");
            return violation("bad_frame", "not registered yet");
        }
        if (std::holds_alternative<protocol::drain_frame>(frame)) return ctx_->agents->on_drain(conn_);
        auto& result = std::get<protocol::inference_result_frame>(frame);
        on_result(std::move(result));
    }

    void on_registered(const protocol::registered_frame& reply) {
        enqueue_text(protocol::encode(reply));
        bool any = false;
        for (const auto& s : reply.spaces) any = any || s.ok;
        if (!any) return enqueue_close(protocol::close_no_space_accepted, "no space accepted");
        registered_ = true;
    }

    void on_result(protocol::inference_result_frame result) {
        auto id = uuid::parse(result.request_id);
        if (!id) return violation("bad_frame", "request_id is not a UUID");
        std::vector<stored_file> outputs;
        bool terminal = result.status == protocol::result_status::completed ||
                        result.status == protocol::result_status::failed;
        if (result.status == protocol::result_status::completed) {
            auto it = finished_.find(*id);
            for (const auto& ref : result.files) {
                if (it == finished_.end()) break;
                auto b = it->second.find(ref.blob);
                if (b == it->second.end()) continue;
                stored_file f;
                f.blob = ref.blob;
                f.name = ref.name;
                f.mime = ref.mime.empty() ? "application/octet-stream" : ref.mime;
                f.size = b->second.size;
                f.path = b->second.path.string();
                f.sha256 = b->second.sha256;
                outputs.push_back(std::move(f));
            }
        }
        if (terminal) forget_partials(*id, false);
        ctx_->agents->on_result(conn_, std::move(result), std::move(outputs));
        if (terminal) held_.erase(*id);
    }

    void on_binary(const std::string& frame) {
        if (!registered_) return violation("bad_frame", "binary frame before register");
        auto header = protocol::parse_blob_header(frame);
        if (!header) return violation("bad_frame", "binary frame shorter than its header");
        auto data = std::string_view(frame).substr(protocol::blob_header_size);
        if (data.size() > ctx_->limits.max_blob_chunk)
            return enqueue_close(protocol::close_too_big, "blob chunk too large");
        uuid id;
        id.bytes = header->request_id;
        if (!held_.contains(id)) return violation("bad_frame", "blob for a request this connection does not hold");
        auto& writer = partial_[id][header->blob];
        if (!writer.is_open()) {
            std::error_code ec;
            writer = ctx_->agents->open_output(id, header->blob, ctx_->limits.max_output_file, ec);
            if (ec) {
                partial_[id].erase(header->blob);
                return violation("bad_frame", "cannot store output file");
            }
        }
        if (partial_bytes_ + data.size() > ctx_->limits.max_output_total) {
            writer.abort();
            partial_[id].erase(header->blob);
            return violation("too_large", "output files too large");
        }
        auto st = writer.write(data);
        if (st != blob_write_status::ok) {
            partial_[id].erase(header->blob);
            return violation(st == blob_write_status::too_large ? "too_large" : "bad_frame", "cannot store output file");
        }
        partial_bytes_ += data.size();
        if (header->last()) {
            std::error_code ec;
            auto done = writer.finish(ec);
            partial_bytes_ -= std::min<std::uint64_t>(partial_bytes_, done.size);
            partial_[id].erase(header->blob);
            if (ec) return violation("bad_frame", "cannot store output file");
            finished_[id][header->blob] = std::move(done);
        }
    }

    // Drops the request's partial outputs; keeps finished files unless `remove_finished`.
    void forget_partials(const uuid& id, bool remove_finished) {
        if (auto it = partial_.find(id); it != partial_.end()) {
            for (auto& [blob, w] : it->second) {
                partial_bytes_ -= std::min<std::uint64_t>(partial_bytes_, w.size());
                w.abort();
            }
            partial_.erase(it);
        }
        if (auto it = finished_.find(id); it != finished_.end()) {
            if (remove_finished)
                for (auto& [blob, f] : it->second) {
                    std::error_code ec;
                    std::filesystem::remove(f.path, ec);
                }
            finished_.erase(it);
        }
    }

    void forget(const uuid& id) {
        held_.erase(id);
        forget_partials(id, true);
    }

    void enqueue_text(std::string text) {
        outgoing o;
        o.data = std::move(text);
        enqueue(std::move(o));
    }

    void enqueue_close(std::uint16_t code, std::string reason) {
        if (close_queued_) return;
        close_queued_ = true;
        outgoing o;
        o.what = outgoing::kind::close;
        o.code = code;
        o.data = std::move(reason);
        enqueue(std::move(o));
    }

    void enqueue(outgoing o) {
        if (done_ || !accepted_) {
            if (o.what == outgoing::kind::close && !accepted_) finish();
            return;
        }
        if (close_queued_ && o.what != outgoing::kind::close && !queue_.empty() &&
            queue_.back().what == outgoing::kind::close)
            return; // nothing goes after the close
        queue_.push_back(std::move(o));
        if (!writing_) write_next();
    }

    void write_next() {
        if (queue_.empty() || done_) return;
        auto& o = queue_.front();
        writing_ = true;
        auto self = this->shared_from_this();
        switch (o.what) {
        case outgoing::kind::text:
            ws_.text(true);
            ws_.async_write(asio::buffer(o.data), [self](error_code ec, std::size_t n) { self->on_written(ec, n, true); });
            return;
        case outgoing::kind::close:
            closing_ = true;
            close_reason_ = websocket::close_reason(o.code);
            close_reason_.reason = o.data.substr(0, 120);
            ws_.async_close(close_reason_, [self](error_code) {
                self->writing_ = false;
                self->finish();
            });
            return;
        case outgoing::kind::file:
            if (!write_file_chunk(o)) {
                writing_ = false;
                queue_.pop_front();
                write_next();
            }
            return;
        }
    }

    // Reads the next chunk of a file and writes it; false if the file is
    // gone (the agent then sees a short file and the request fails there).
    bool write_file_chunk(outgoing& o) {
        if (!held_.contains(o.request)) return false; // cancelled meanwhile
        if (o.file == nullptr) {
            o.file = std::fopen(o.path.c_str(), "rb");
            if (o.file == nullptr) {
                log::error("agent conn {}: cannot read input {}", conn_, o.path);
                return false;
            }
        }
        chunk_.resize(ctx_->limits.max_blob_chunk);
        auto n = std::fread(chunk_.data(), 1, chunk_.size(), o.file);
        bool last = n < chunk_.size() || std::feof(o.file) != 0;
        if (!last) {
            int c = std::fgetc(o.file); // peek: an exact multiple of the chunk size ends here too
            if (c == EOF) last = true;
            else std::ungetc(c, o.file);
        }
        protocol::blob_header h;
        h.request_id = o.request.bytes;
        h.blob = o.blob;
        h.flags = last ? protocol::blob_flag_last : 0;
        frame_ = protocol::encode_blob_frame(h, std::string_view(chunk_.data(), n));
        if (last) {
            std::fclose(o.file);
            o.file = nullptr;
        }
        ws_.binary(true);
        ws_.async_write(asio::buffer(frame_), [self = this->shared_from_this(), last](error_code ec, std::size_t n2) {
            self->on_written(ec, n2, last);
        });
        return true;
    }

    void on_written(error_code ec, std::size_t n, bool pop) {
        writing_ = false;
        if (ec) return finish();
        ++ctx_->counters->frames_out;
        ctx_->counters->bytes_out += n;
        if (pop) queue_.pop_front();
        write_next();
    }

    void finish() {
        if (done_) return;
        done_ = true;
        register_timer_.cancel();
        for (auto& [id, blobs] : partial_)
            for (auto& [b, w] : blobs) w.abort();
        partial_.clear();
        if (register_sent_) ctx_->agents->on_closed(conn_);
        beast::error_code ec;
        beast::get_lowest_layer(ws_).socket().close(ec);
    }

    websocket::stream<Stream> ws_;
    std::shared_ptr<const session_context> ctx_;
    connection_ticket ticket_;
    asio::steady_timer register_timer_;
    agent_conn_id conn_;
    beast::flat_buffer buffer_;
    std::deque<outgoing> queue_;
    std::vector<char> chunk_;
    std::string frame_;
    websocket::close_reason close_reason_;
    bool accepted_ = false;
    bool register_sent_ = false;
    bool registered_ = false;
    bool writing_ = false;
    bool closing_ = false;
    bool close_queued_ = false;
    bool done_ = false;
    int violations_ = 0;
    std::set<uuid> held_;
    std::map<uuid, std::map<std::uint32_t, blob_writer>> partial_;
    std::map<uuid, std::map<std::uint32_t, finished_blob>> finished_;
    std::uint64_t partial_bytes_ = 0;
};

} // namespace

template <class Stream>
void start_agent_session(Stream stream, http::request<http::empty_body> upgrade,
                         std::shared_ptr<const session_context> ctx, connection_ticket ticket) {
    std::make_shared<agent_session<Stream>>(std::move(stream), std::move(ctx), std::move(ticket))
        ->run(std::move(upgrade));
}

template void start_agent_session<plain_stream>(plain_stream, http::request<http::empty_body>,
                                                std::shared_ptr<const session_context>, connection_ticket);
template void start_agent_session<tls_stream>(tls_stream, http::request<http::empty_body>,
                                              std::shared_ptr<const session_context>, connection_ticket);

} // namespace tether::broker::net

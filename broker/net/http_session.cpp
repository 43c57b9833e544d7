#include "net/http_session.hpp"

#include "net/agent_session.hpp"
#include "net/sse_session.hpp"
#include "net/stream_ops.hpp"
#include "net/upload_spool.hpp"

#include "tether/protocol/json_writer.hpp"
#include "tether/shared/log.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <array>
#include <atomic>
#include <limits>
#include <optional>

namespace tether::broker::net {
namespace {

namespace beast = boost::beast;
namespace asio = boost::asio;
using error_code = beast::error_code;

constexpr std::size_t upload_chunk = 64 * 1024;

string_response error_response(http::status status, std::string_view code, std::string_view message,
                               unsigned version) {
    protocol::json_writer w;
    w.begin_object().key("error").begin_object().key("code").value(code).key("message").value(message);
    w.end_object().end_object();
    string_response res{status, version};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.body() = w.take();
    res.body() += '\n';
    res.prepare_payload();
    return res;
}

template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
public:
    http_session(Stream stream, std::shared_ptr<const session_context> ctx, connection_ticket ticket)
        : stream_(std::move(stream)), ctx_(std::move(ctx)), ticket_(std::move(ticket)) {}

    void run() {
        asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->start(); });
    }

    // Called by the exchange, from any thread.
    template <class Response>
    void post_response(Response res) {
        asio::post(stream_.get_executor(), [self = this->shared_from_this(), r = std::move(res)]() mutable {
            self->write_response(std::move(r));
        });
    }
    void post_events(std::shared_ptr<sse_channel> channel) {
        asio::post(stream_.get_executor(), [self = this->shared_from_this(), ch = std::move(channel)]() mutable {
            self->switch_to_events(std::move(ch));
        });
    }

private:
    class exchange final : public http_exchange {
    public:
        exchange(std::shared_ptr<http_session> s, unsigned version, bool keep_alive)
            : session_(std::move(s)), version_(version), keep_alive_(keep_alive) {}
        ~exchange() override {
            if (!answered_.exchange(true))
                session_->post_response(
                    error_response(http::status::internal_server_error, "internal", "no answer", version_));
        }
        void respond(string_response res) override {
            if (answered_.exchange(true)) return;
            finish(res);
            session_->post_response(std::move(res));
        }
        void respond_file(file_response res) override {
            if (answered_.exchange(true)) return;
            finish(res);
            session_->post_response(std::move(res));
        }
        void respond_events(std::shared_ptr<sse_channel> channel) override {
            if (answered_.exchange(true)) return;
            session_->post_events(std::move(channel));
        }

    private:
        template <class R>
        void finish(R& res) {
            res.version(version_);
            if (!keep_alive_) res.keep_alive(false);
        }
        std::shared_ptr<http_session> session_;
        unsigned version_;
        bool keep_alive_;
        std::atomic<bool> answered_{false};
    };

    void start() {
        if constexpr (is_tls_stream_v<Stream>) {
            beast::get_lowest_layer(stream_).expires_after(ctx_->limits.tls_handshake_timeout);
            stream_.async_handshake(asio::ssl::stream_base::server,
                                    [self = this->shared_from_this()](error_code ec) {
                                        if (ec) return; // bad handshake: drop quietly
                                        self->read_header();
                                    });
        } else {
            read_header();
        }
    }

    void read_header() {
        header_parser_.emplace();
        header_parser_->header_limit(ctx_->limits.header_limit);
        // The body's limit depends on its kind; it is set once the header is in.
        header_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
        // The first request gets the header timeout; later ones the keep-alive idle time.
        beast::get_lowest_layer(stream_).expires_after(requests_ == 0 ? ctx_->limits.header_timeout
                                                                      : ctx_->limits.idle_timeout);
        http::async_read_header(stream_, buffer_, *header_parser_,
                                [self = this->shared_from_this()](error_code ec, std::size_t) {
                                    self->on_header(ec);
                                });
    }

    void on_header(error_code ec) {
        if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
            ec == asio::error::operation_aborted || ec == asio::error::connection_reset)
            return close();
        if (ec) {
            auto status = ec == http::error::header_limit ? http::status::request_header_fields_too_large
                                                          : http::status::bad_request;
            return refuse(error_response(status, "bad_request", ec.message(), 11));
        }
        ++requests_;
        ++ctx_->counters->http_requests;
        auto& req = header_parser_->get();
        auto target = std::string_view(req.target().data(), req.target().size());
        auto path = target.substr(0, target.find('?'));

        if (beast::websocket::is_upgrade(req)) {
            if (path != "/agent")
                return refuse(error_response(http::status::not_found, "not_found", "no WebSocket here", req.version()));
            beast::get_lowest_layer(stream_).expires_never();
            start_agent_session(std::move(stream_), header_parser_->release(), ctx_, std::move(ticket_));
            return;
        }

        if (req.method() == http::verb::post) {
            auto ct = req[http::field::content_type];
            if (auto boundary = multipart_parser::boundary_of(std::string_view(ct.data(), ct.size())))
                return begin_upload(std::move(*boundary));
        }
        begin_string_body();
    }

    bool expects_continue() const {
        auto e = header_parser_->get()[http::field::expect];
        return beast::iequals(std::string_view(e.data(), e.size()), "100-continue");
    }

    // Sends "100 Continue" when the client waits for it, then calls `next`.
    template <class Next>
    void maybe_continue(bool wanted, Next next) {
        if (!wanted) return next();
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        beast::get_lowest_layer(stream_).expires_after(ctx_->limits.write_timeout);
        asio::async_write(stream_, asio::buffer(cont.data(), cont.size()),
                          [self = this->shared_from_this(), next](error_code ec, std::size_t) mutable {
                              if (ec) return self->close();
                              next();
                          });
    }

    void begin_string_body() {
        bool cont = expects_continue(); // read before the header parser is moved from
        body_parser_.emplace(std::move(*header_parser_));
        header_parser_.reset();
        body_parser_->body_limit(ctx_->handler->max_body_bytes());
        if (auto len = body_parser_->content_length(); len && *len > ctx_->handler->max_body_bytes())
            return refuse(error_response(http::status::payload_too_large, "too_large", "request body too large", 11));
        if (body_parser_->is_done()) return dispatch_request(body_parser_->release(), nullptr);
        maybe_continue(cont, [this] {
            beast::get_lowest_layer(stream_).expires_after(ctx_->limits.body_timeout);
            http::async_read(stream_, buffer_, *body_parser_,
                             [self = this->shared_from_this()](error_code ec, std::size_t) {
                                 self->on_string_body(ec);
                             });
        });
    }

    void on_string_body(error_code ec) {
        if (ec == http::error::body_limit)
            return refuse(error_response(http::status::payload_too_large, "too_large", "request body too large", 11));
        if (ec) return close();
        dispatch_request(body_parser_->release(), nullptr);
    }

    void begin_upload(std::string boundary) {
        auto admission = ctx_->handler->admit_upload(header_parser_->get().base(), is_tls_stream_v<Stream>);
        if (admission.refusal) return refuse(std::move(*admission.refusal));
        bool cont = expects_continue();
        upload_parser_.emplace(std::move(*header_parser_));
        header_parser_.reset();
        upload_parser_->body_limit(admission.max_bytes);
        auto len = upload_parser_->content_length();
        if (len && *len > admission.max_bytes)
            return refuse(error_response(http::status::payload_too_large, "too_large", "upload too large", 11));
        spool_.emplace(std::move(boundary), std::move(admission.spool_dir), admission.max_bytes);
        chunk_.resize(upload_chunk);
        maybe_continue(cont, [this] { read_upload_chunk(); });
    }

    void read_upload_chunk() {
        auto& body = upload_parser_->get().body();
        body.data = chunk_.data();
        body.size = chunk_.size();
        beast::get_lowest_layer(stream_).expires_after(ctx_->limits.body_timeout);
        http::async_read(stream_, buffer_, *upload_parser_,
                         [self = this->shared_from_this()](error_code ec, std::size_t) { self->on_upload_chunk(ec); });
    }

    void on_upload_chunk(error_code ec) {
        if (ec == http::error::need_buffer) ec = {};
        if (ec == http::error::body_limit)
            return refuse(error_response(http::status::payload_too_large, "too_large", "upload too large", 11));
        if (ec) return close();
        std::size_t got = chunk_.size() - upload_parser_->get().body().size;
        auto st = spool_->feed(std::string_view(chunk_.data(), got));
        if (st == upload_spool::status::ok && upload_parser_->is_done()) st = spool_->finish();
        if (st != upload_spool::status::ok) {
            auto status = st == upload_spool::status::too_large ? http::status::payload_too_large
                          : st == upload_spool::status::malformed ? http::status::bad_request
                                                                  : http::status::service_unavailable;
            auto code = st == upload_spool::status::too_large ? "too_large"
                        : st == upload_spool::status::malformed ? "bad_request"
                                                                : "store_unavailable";
            auto res = error_response(status, code, spool_->error(), 11);
            if (st == upload_spool::status::io_error) res.set(http::field::retry_after, "5");
            return refuse(std::move(res));
        }
        if (!upload_parser_->is_done()) return read_upload_chunk();
        string_request req;
        req.base() = upload_parser_->get().base();
        auto form = spool_->take();
        spool_.reset();
        upload_parser_.reset();
        chunk_.clear();
        chunk_.shrink_to_fit();
        dispatch_request(std::move(req), std::move(form));
    }

    void dispatch_request(string_request req, std::shared_ptr<uploaded_form> form) {
        body_parser_.reset();
        beast::get_lowest_layer(stream_).expires_never(); // the handler may take a while (durable write)
        incoming_request in;
        bool keep_alive = req.keep_alive();
        unsigned version = req.version();
        in.msg = std::move(req);
        in.form = std::move(form);
        in.tls = is_tls_stream_v<Stream>;
        error_code ec;
        auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
        if (!ec) in.remote = ep.address().to_string();
        auto ex = std::make_shared<exchange>(this->shared_from_this(), version, keep_alive);
        ctx_->handler->handle(std::move(in), std::move(ex));
    }

    // Answers and closes: the rest of the request was not (or not all) read.
    void refuse(string_response res) {
        res.keep_alive(false);
        header_parser_.reset();
        body_parser_.reset();
        upload_parser_.reset();
        spool_.reset();
        write_response(std::move(res));
    }

    template <class Response>
    void write_response(Response res) {
        auto sp = std::make_shared<Response>(std::move(res));
        bool close_after = sp->need_eof();
        constexpr bool is_file = std::is_same_v<Response, file_response>;
        beast::get_lowest_layer(stream_).expires_after(is_file ? ctx_->limits.file_write_timeout
                                                               : ctx_->limits.write_timeout);
        http::async_write(stream_, *sp, [self = this->shared_from_this(), sp, close_after](error_code ec, std::size_t) {
            if (ec || close_after) return self->close();
            self->read_header();
        });
    }

    void switch_to_events(std::shared_ptr<sse_channel> channel) {
        auto res = std::make_shared<http::response<http::empty_body>>(http::status::ok, 11);
        res->set(http::field::content_type, "text/event-stream");
        res->set(http::field::cache_control, "no-store");
        res->set("X-Accel-Buffering", "no");
        res->keep_alive(false);
        auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*res);
        beast::get_lowest_layer(stream_).expires_after(ctx_->limits.write_timeout);
        http::async_write_header(stream_, *sr,
                                 [self = this->shared_from_this(), res, sr, ch = std::move(channel)](
                                     error_code ec, std::size_t) mutable {
                                     if (ec) {
                                         ch->detach();
                                         return self->close();
                                     }
                                     beast::get_lowest_layer(self->stream_).expires_never();
                                     start_sse_session(std::move(self->stream_), std::move(ch), self->ctx_,
                                                       std::move(self->ticket_));
                                 });
    }

    void close() {
        beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
        shutdown_stream(stream_, this->shared_from_this());
        // A plain socket closed with unread bytes sends RST, which can destroy
        // the answer (a 413) before the client reads it: read and drop a little first.
        if constexpr (!is_tls_stream_v<Stream>) drain();
    }

    void drain() {
        beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
        drain_buf_.resize(16 * 1024);
        stream_.async_read_some(asio::buffer(drain_buf_), [self = this->shared_from_this()](error_code ec, std::size_t n) {
            self->drained_ += n;
            if (!ec && self->drained_ < drain_limit) self->drain();
        });
    }

    Stream stream_;
    std::shared_ptr<const session_context> ctx_;
    connection_ticket ticket_;
    beast::flat_buffer buffer_;
    std::size_t requests_ = 0;
    std::optional<http::request_parser<http::empty_body>> header_parser_;
    std::optional<http::request_parser<http::string_body>> body_parser_;
    std::optional<http::request_parser<http::buffer_body>> upload_parser_;
    std::optional<upload_spool> spool_;
    std::vector<char> chunk_;
    std::vector<char> drain_buf_;
    std::size_t drained_ = 0;
    static constexpr std::size_t drain_limit = 8U << 20;
};

} // namespace

void start_http_session(plain_stream stream, std::shared_ptr<const session_context> ctx, connection_ticket ticket) {
    std::make_shared<http_session<plain_stream>>(std::move(stream), std::move(ctx), std::move(ticket))->run();
}

void start_http_session(tls_stream stream, std::shared_ptr<const session_context> ctx, connection_ticket ticket) {
    std::make_shared<http_session<tls_stream>>(std::move(stream), std::move(ctx), std::move(ticket))->run();
}

} // namespace tether::broker::net

#include "net/ws_transport.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <type_traits>

namespace tether::agent {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using boost::system::error_code;

struct ws_transport::impl {
    virtual ~impl() = default;
    virtual void connect(const broker_url& url, done_handler h) = 0;
    virtual void heartbeat(std::chrono::seconds interval) = 0;
    virtual void read(read_handler h) = 0;
    virtual void write(bool binary, const std::string& data, done_handler h) = 0;
    virtual void close(std::uint16_t code, done_handler h) = 0;
    virtual void abort() = 0;
    virtual std::uint16_t close_code() const = 0;
    virtual std::string close_reason() const = 0;
};

namespace {

template <typename Next>
class stream_impl final : public ws_transport::impl, public std::enable_shared_from_this<stream_impl<Next>> {
  public:
    static constexpr bool tls = !std::is_same_v<Next, beast::tcp_stream>;

    stream_impl(asio::any_io_executor ex, asio::ssl::context* ctx, transport_limits limits)
        : resolver_(ex), ws_(make_stream(ex, ctx)), limits_(limits) {}

    void connect(const broker_url& url, ws_transport::done_handler h) override {
        url_ = url;
        auto self = this->shared_from_this();
        resolver_.async_resolve(url.host, std::to_string(url.port),
                                [self, h = std::move(h)](error_code ec, tcp::resolver::results_type results) mutable {
                                    if (ec) return h(ec);
                                    self->on_resolved(results, std::move(h));
                                });
    }

    void heartbeat(std::chrono::seconds interval) override {
        websocket::stream_base::timeout opt{};
        opt.handshake_timeout = limits_.handshake_timeout;
        opt.idle_timeout = interval * 2;
        opt.keep_alive_pings = true; // ping at half the idle timeout, i.e. every `interval` of silence
        ws_.set_option(opt);
    }

    void read(ws_transport::read_handler h) override {
        auto self = this->shared_from_this();
        ws_.async_read(buffer_, [self, h = std::move(h)](error_code ec, std::size_t) {
            std::string data = beast::buffers_to_string(self->buffer_.data());
            self->buffer_.consume(self->buffer_.size());
            h(ec, self->ws_.got_binary(), std::move(data));
        });
    }

    void write(bool binary, const std::string& data, ws_transport::done_handler h) override {
        ws_.binary(binary);
        auto self = this->shared_from_this();
        ws_.async_write(asio::buffer(data), [self, h = std::move(h)](error_code ec, std::size_t) { h(ec); });
    }

    void close(std::uint16_t code, ws_transport::done_handler h) override {
        auto self = this->shared_from_this();
        ws_.async_close(websocket::close_reason(code), [self, h = std::move(h)](error_code ec) { h(ec); });
    }

    void abort() override {
        error_code ec;
        resolver_.cancel();
        beast::get_lowest_layer(ws_).socket().close(ec);
    }

    std::uint16_t close_code() const override { return ws_.reason().code; }
    std::string close_reason() const override { return std::string(ws_.reason().reason.c_str()); }

  private:
    using ws_type = websocket::stream<Next>;

    static ws_type make_stream(asio::any_io_executor ex, asio::ssl::context* ctx) {
        if constexpr (tls) {
            return ws_type(ex, *ctx);
        } else {
            (void)ctx;
            return ws_type(ex);
        }
    }

    void on_resolved(const tcp::resolver::results_type& results, ws_transport::done_handler h) {
        auto& lowest = beast::get_lowest_layer(ws_);
        lowest.expires_after(limits_.connect_timeout);
        auto self = this->shared_from_this();
        lowest.async_connect(results, [self, h = std::move(h)](error_code ec, const tcp::endpoint&) mutable {
            if (ec) return h(ec);
            // Results are many small frames; without this each waits on Nagle
            // plus the broker's delayed ACK (~40 ms per request, measured in bench/).
            error_code nodelay_ec;
            beast::get_lowest_layer(self->ws_).socket().set_option(tcp::no_delay(true), nodelay_ec);
            if constexpr (tls) {
                self->tls_handshake(std::move(h));
            } else {
                self->ws_handshake(std::move(h));
            }
        });
    }

    void tls_handshake(ws_transport::done_handler h) {
        if constexpr (tls) {
            auto& ssl = ws_.next_layer();
            // SNI, so a broker behind a name-based TLS front gets the right certificate,
            // and host name verification on top of the chain check.
            if (!SSL_set_tlsext_host_name(ssl.native_handle(), url_.host.c_str())) {
                return h(error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()));
            }
            ssl.set_verify_callback(asio::ssl::host_name_verification(url_.host));
            beast::get_lowest_layer(ws_).expires_after(limits_.handshake_timeout);
            auto self = this->shared_from_this();
            ssl.async_handshake(asio::ssl::stream_base::client, [self, h = std::move(h)](error_code ec) mutable {
                if (ec) return h(ec);
                self->ws_handshake(std::move(h));
            });
        } else {
            (void)h;
        }
    }

    void ws_handshake(ws_transport::done_handler h) {
        // From here the websocket's own timeouts apply, not the TCP stream's.
        beast::get_lowest_layer(ws_).expires_never();
        websocket::stream_base::timeout opt{};
        opt.handshake_timeout = limits_.handshake_timeout;
        opt.idle_timeout = websocket::stream_base::none();
        opt.keep_alive_pings = false;
        ws_.set_option(opt);
        ws_.set_option(websocket::stream_base::decorator(
            [](websocket::request_type& req) { req.set(beast::http::field::user_agent, "tether-agent/0.1.0"); }));
        ws_.read_message_max(limits_.max_message_bytes);
        const bool v6 = url_.host.find(':') != std::string::npos;
        const std::string host = (v6 ? "[" + url_.host + "]" : url_.host) + ":" + std::to_string(url_.port);
        auto self = this->shared_from_this();
        ws_.async_handshake(host, url_.target, [self, h = std::move(h)](error_code ec) { h(ec); });
    }

    tcp::resolver resolver_;
    ws_type ws_;
    beast::flat_buffer buffer_;
    transport_limits limits_;
    broker_url url_;
};

} // namespace

ws_transport::ws_transport(const asio::any_io_executor& ex, asio::ssl::context* tls, transport_limits limits) {
    if (tls) {
        impl_ = std::make_shared<stream_impl<beast::ssl_stream<beast::tcp_stream>>>(ex, tls, limits);
    } else {
        impl_ = std::make_shared<stream_impl<beast::tcp_stream>>(ex, nullptr, limits);
    }
}

ws_transport::~ws_transport() = default;

void ws_transport::async_connect(const broker_url& url, done_handler h) {
    impl_->connect(url, std::move(h));
}
void ws_transport::set_heartbeat(std::chrono::seconds interval) {
    impl_->heartbeat(interval);
}
void ws_transport::async_read(read_handler h) {
    impl_->read(std::move(h));
}
void ws_transport::async_write(bool binary, const std::string& data, done_handler h) {
    impl_->write(binary, data, std::move(h));
}
void ws_transport::async_close(std::uint16_t code, done_handler h) {
    impl_->close(code, std::move(h));
}
void ws_transport::abort() {
    impl_->abort();
}
std::uint16_t ws_transport::peer_close_code() const {
    return impl_->close_code();
}
std::string ws_transport::peer_close_reason() const {
    return impl_->close_reason();
}

} // namespace tether::agent

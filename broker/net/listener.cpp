#include "net/listener.hpp"

#include "net/http_session.hpp"

#include "tether/shared/log.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

namespace tether::broker::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

listener::listener(asio::io_context& ioc, const tcp::endpoint& endpoint, std::shared_ptr<asio::ssl::context> tls,
                   std::shared_ptr<const session_context> ctx, boost::system::error_code& ec)
    : ioc_(ioc), acceptor_(asio::make_strand(ioc)), retry_(acceptor_.get_executor()), tls_(std::move(tls)),
      ctx_(std::move(ctx)) {
    acceptor_.open(endpoint.protocol(), ec);
    if (ec) return;
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) return;
    acceptor_.bind(endpoint, ec);
    if (ec) return;
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
}

void listener::run() {
    accept_next();
}

void listener::stop() {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
        boost::system::error_code ec;
        self->acceptor_.close(ec);
        self->retry_.cancel();
    });
}

tcp::endpoint listener::local_endpoint() const {
    boost::system::error_code ec;
    return acceptor_.local_endpoint(ec);
}

void listener::accept_next() {
    acceptor_.async_accept(asio::make_strand(ioc_), [self = shared_from_this()](boost::system::error_code ec,
                                                                                tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
        if (ec) {
            // Out of file descriptors (or another resource): the pending
            // connection stays in the backlog and accept would fail again at
            // once. Back off instead of spinning and flooding the log.
            log::warn("accept failed: {}; retrying in 100 ms", ec.message());
            self->retry_.expires_after(std::chrono::milliseconds(100));
            self->retry_.async_wait([self](boost::system::error_code wait_ec) {
                if (!wait_ec && self->acceptor_.is_open()) self->accept_next();
            });
            return;
        }
        if (static_cast<std::size_t>(self->ctx_->counters->connections.load()) >= self->ctx_->limits.max_connections) {
            boost::system::error_code ignored;
            socket.close(ignored); // over the limit: refuse rather than slow everyone down
        } else {
            boost::system::error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            connection_ticket ticket(self->ctx_->counters);
            if (self->tls_)
                start_http_session(tls_stream(std::move(socket), *self->tls_), self->ctx_, std::move(ticket));
            else
                start_http_session(plain_stream(std::move(socket)), self->ctx_, std::move(ticket));
        }
        self->accept_next();
    });
}

} // namespace tether::broker::net

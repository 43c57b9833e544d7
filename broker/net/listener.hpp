#pragma once
// Accepts TCP connections and hands each to an HTTP session on a strand of
// its own (TLS when a context is given). Bounds the number of connections.
// Does not read from sockets itself.

#include "net/session_context.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <system_error>

namespace tether::broker::net {

class listener : public std::enable_shared_from_this<listener> {
public:
    // Binds and listens; `ec` set on failure (address in use, permission).
    listener(boost::asio::io_context& ioc, const boost::asio::ip::tcp::endpoint& endpoint,
             std::shared_ptr<boost::asio::ssl::context> tls, std::shared_ptr<const session_context> ctx,
             boost::system::error_code& ec);

    void run();
    void stop(); // stops accepting; open sessions carry on
    boost::asio::ip::tcp::endpoint local_endpoint() const;

private:
    void accept_next();

    boost::asio::io_context& ioc_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer retry_; // backs off after a failed accept (EMFILE)
    std::shared_ptr<boost::asio::ssl::context> tls_;
    std::shared_ptr<const session_context> ctx_;
};

} // namespace tether::broker::net

#pragma once
// Small helpers that differ between plain TCP and TLS streams: whether the
// stream is TLS, and how to end it politely. Header-only, no state.

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <type_traits>

namespace tether::broker::net {

template <class Stream>
inline constexpr bool is_tls_stream_v =
    !std::is_same_v<std::decay_t<Stream>, boost::beast::tcp_stream>;

// Sends the TLS close_notify / TCP FIN and lets the stream go. Never throws.
template <class Stream, class Keep>
void shutdown_stream(Stream& stream, Keep keep_alive) {
    namespace beast = boost::beast;
    if constexpr (is_tls_stream_v<Stream>) {
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
        stream.async_shutdown([keep_alive](beast::error_code) {});
    } else {
        beast::error_code ec;
        stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
        (void)keep_alive;
    }
}

} // namespace tether::broker::net

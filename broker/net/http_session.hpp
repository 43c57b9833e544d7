#pragma once
// One HTTP/1.1 connection: reads requests (header first, bounded and timed),
// streams multipart uploads to disk, reads other bodies up to a limit, hands
// each request to the API handler and writes its answer; on an upgrade of
// GET /agent it becomes an agent_session, on an SSE answer an sse_session.
// Knows no routes and no core: the request_handler decides.

#include "net/session_context.hpp"

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <memory>

namespace tether::broker::net {

using plain_stream = boost::beast::tcp_stream;
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// Starts the session (for TLS: the handshake first). The stream's executor
// must be a strand of its own.
void start_http_session(plain_stream stream, std::shared_ptr<const session_context> ctx,
                        connection_ticket ticket);
void start_http_session(tls_stream stream, std::shared_ptr<const session_context> ctx, connection_ticket ticket);

} // namespace tether::broker::net

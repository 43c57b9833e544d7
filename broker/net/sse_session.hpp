#pragma once
// A connection that has answered "200 text/event-stream" and now only writes
// events: fed by an sse_channel, one write in flight, a ": keepalive" comment
// when idle, closed when the channel finishes or the client goes away.

#include "net/session_context.hpp"
#include "net/sse_channel.hpp"

#include <memory>

namespace tether::broker::net {

// Stream is plain_stream or tls_stream (explicitly instantiated).
template <class Stream>
void start_sse_session(Stream stream, std::shared_ptr<sse_channel> channel,
                       std::shared_ptr<const session_context> ctx, connection_ticket ticket);

} // namespace tether::broker::net

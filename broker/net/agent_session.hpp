#pragma once
// One agent's WebSocket (GET /agent): accepts the upgrade, insists on a
// register frame within the time limit, parses text frames, stores output
// blob chunks of requests this connection holds, and writes frames through a
// queue (one write in flight; input files streamed from disk chunk by chunk).
// Reports to the agent_hub; never touches the core directly.

#include "net/session_context.hpp"

#include <boost/beast/http.hpp>

#include <memory>

namespace tether::broker::net {

// Stream is plain_stream or tls_stream (explicitly instantiated).
template <class Stream>
void start_agent_session(Stream stream, boost::beast::http::request<boost::beast::http::empty_body> upgrade,
                         std::shared_ptr<const session_context> ctx, connection_ticket ticket);

} // namespace tether::broker::net

#pragma once
// The event streams open on this broker and the credentials that opened them,
// so that revoking a session or an API key, or removing or disabling a user,
// ends that caller's open streams at once (DESIGN "HTTP API"; issue 13)
// instead of when each request finishes. Thread-safe; holds channels weakly,
// so a stream that closed on its own is simply forgotten.

#include "api/auth.hpp"
#include "net/sse_channel.hpp"
#include "store/account_store.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tether::broker::api {

class stream_registry {
  public:
    // Writes a stream's last words before it is finished: an event that says
    // why it ends, in the stream's own format.
    using last_words = std::function<void(net::sse_channel&)>;

    // Remembers an open stream of `who` (signed-in callers only).
    void add(const caller& who, const std::shared_ptr<net::sse_channel>& channel, last_words words);
    // Ends every open stream whose credential no longer names the same
    // enabled user (checked against the store, so it blocks: call it off the
    // io threads). Returns how many it ended.
    std::size_t revalidate(account_store& accounts);
    // Streams still open (closed ones are dropped on the way).
    std::size_t open_streams();

  private:
    struct entry {
        std::weak_ptr<net::sse_channel> channel;
        auth_kind how = auth_kind::none;
        std::string token; // session token or API key
        std::string username;
        last_words words;
    };
    std::mutex mu_;
    std::vector<entry> entries_;
};

// The `revoked` event that ends a GET /api/requests/{id}/events stream, and
// the OpenAI-shaped error chunk that ends a streamed /v1 answer.
void write_revoked_event(net::sse_channel& channel);
void write_revoked_openai(net::sse_channel& channel);

} // namespace tether::broker::api

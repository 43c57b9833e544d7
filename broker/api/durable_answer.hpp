#pragma once
// The half of an OpenAI call in flight (chat_run, audio_run) that decides
// when its answer may leave: only once the store has the request (durable),
// else it is held; a refusal replaces it. A streamed answer is a channel
// handed to the connection once durable.

#include "net/http_types.hpp"
#include "net/sse_channel.hpp"

#include <memory>
#include <mutex>
#include <optional>

namespace tether::broker::api {

class durable_answer {
  public:
    // The store has the request: the answer may go out. Any thread.
    void durable();
    // The request was not accepted (or not stored): answer `res` instead. Any thread.
    void refuse(net::string_response res);
    // The client's event stream (streamed answers only; null otherwise).
    const std::shared_ptr<net::sse_channel>& stream_channel() const { return out_; }

  protected:
    explicit durable_answer(std::shared_ptr<net::http_exchange> ex) : ex_(std::move(ex)) {}
    ~durable_answer() = default;
    // Under mutex_: now if durable, else once durable.
    void answer(net::string_response res);
    // Under mutex_: a streamed client that went away (nobody will read the rest).
    bool client_gone() const { return out_ && durable_ && out_->closed(); }

    std::shared_ptr<net::http_exchange> ex_;
    std::mutex mutex_;
    // The client's stream: filled from the first event, handed to the
    // connection once durable (the channel holds what came before).
    std::shared_ptr<net::sse_channel> out_;
    std::optional<net::string_response> held_; // an answer waiting for durability
    bool durable_ = false;
    bool answered_ = false; // the outcome is decided; later events are ignored
};

} // namespace tether::broker::api

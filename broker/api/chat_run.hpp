#pragma once
// One OpenAI completion in flight (/v1/chat/completions or /v1/completions):
// observes its Tether request's events (from core_access::submit_observed,
// on the core strand) and turns them into an OpenAI answer, either one
// chat.completion / text_completion or a stream of chunks ending in
// `data: [DONE]` (with a usage chunk before it when asked). Applies `stop`
// sequences. Answers only once the request is durable. Keeps no request
// state the core does not already have.

#include "api/core_access.hpp"
#include "api/openai_format.hpp"
#include "tether/shared/stop_matcher.hpp"
#include "net/http_types.hpp"
#include "net/sse_channel.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::broker::api {

// The OpenAI error a failed, timed-out or cancelled request's event becomes:
// the agent's bad_input is the client's 400, a timeout 504, the rest 502.
openai_error openai_error_for_event(std::string_view state, std::string_view code, std::string_view message);

class chat_run : public std::enable_shared_from_this<chat_run> {
  public:
    // `request`: its api, stream, include_usage, logprobs and stop are used.
    chat_run(core_access& core, const uuid& id, completion_ids ids, const chat_request& request,
             std::shared_ptr<net::http_exchange> ex);

    // One event of the request (core strand).
    void on_event(const request_event& e);
    // The store has the request: the answer may go out. Any thread.
    void durable();
    // The request was not accepted (or not stored): answer `res` instead. Any thread.
    void refuse(net::string_response res);
    const std::string& model() const { return ids_.model; }
    // The client's event stream (streamed answers only; null otherwise).
    const std::shared_ptr<net::sse_channel>& stream_channel() const { return out_; }

  private:
    void emit(const std::string& text);
    void finish_ok(std::string_view finish_reason, std::string_view usage_json, std::string_view logprobs_json);
    void fail(std::string_view state, std::string_view code, std::string_view message);
    void answer(net::string_response res); // now if durable, else once durable

    core_access& core_;
    const uuid id_;
    const completion_ids ids_;
    const openai_api api_;
    const bool stream_;
    const bool include_usage_;
    std::shared_ptr<net::http_exchange> ex_;

    std::mutex mutex_;
    // The client's stream: filled from the first event, handed to the
    // connection once durable (the channel holds what came before).
    std::shared_ptr<net::sse_channel> out_;
    stop_matcher filter_;
    std::string received_; // all delta text, unfiltered
    std::string content_;  // what the client gets (non-streaming)
    std::optional<net::string_response> held_; // an answer waiting for durability
    bool durable_ = false;
    bool answered_ = false; // the outcome is decided; later events are ignored
};

} // namespace tether::broker::api

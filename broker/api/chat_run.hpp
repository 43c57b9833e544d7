#pragma once
// One OpenAI completion in flight (/v1/chat/completions or /v1/completions):
// observes its Tether request's events (from core_access::submit_observed,
// on the core strand) and turns them into an OpenAI answer, either one
// chat.completion / text_completion or a stream of chunks ending in
// `data: [DONE]` (with a usage chunk before it when asked). Applies `stop`
// sequences. Answers only once the request is durable. Keeps no request
// state the core does not already have.

#include "api/core_access.hpp"
#include "api/durable_answer.hpp"
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

class chat_run : public durable_answer, public std::enable_shared_from_this<chat_run> {
  public:
    // `request`: its api, stream, include_usage, logprobs and stop are used.
    chat_run(core_access& core, const uuid& id, completion_ids ids, const chat_request& request,
             std::shared_ptr<net::http_exchange> ex);

    // One event of the request (core strand).
    void on_event(const request_event& e);
    const std::string& model() const { return ids_.model; }

  private:
    void emit(const std::string& text);
    void finish_ok(std::string_view finish_reason, std::string_view usage_json, std::string_view logprobs_json);
    void fail(std::string_view state, std::string_view code, std::string_view message);

    core_access& core_;
    const uuid id_;
    const completion_ids ids_;
    const openai_api api_;
    const bool stream_;
    const bool include_usage_;

    stop_matcher filter_;
    std::string received_; // all delta text, unfiltered
    std::string content_;  // what the client gets (non-streaming)
};

} // namespace tether::broker::api

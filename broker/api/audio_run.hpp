#pragma once
// One OpenAI transcription or translation in flight: observes its Tether
// request's events (core strand) and answers in the asked format once the
// transcript is complete, or, with stream=true, as OpenAI's
// transcript.text.delta events (one per segment) ending in
// transcript.text.done. Answers only once the request is durable.

#include "api/audio_format.hpp"
#include "api/core_access.hpp"
#include "api/durable_answer.hpp"
#include "net/http_types.hpp"
#include "net/sse_channel.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace tether::broker::api {

class audio_run : public durable_answer, public std::enable_shared_from_this<audio_run> {
  public:
    audio_run(core_access& core, const uuid& id, const audio_request& request, std::shared_ptr<net::http_exchange> ex);

    void on_event(const request_event& e);
    const std::string& model() const { return model_; }

  private:

    core_access& core_;
    const uuid id_;
    const std::string model_;
    const transcript_format format_;
    const bool stream_;
    std::string received_;
};

} // namespace tether::broker::api

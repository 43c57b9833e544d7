#pragma once
// Spaces served by an OpenAI-compatible server already on the box (vLLM,
// llama.cpp's server, Ollama, TGI, another Tether broker): a job with
// messages becomes POST {base}/chat/completions, one with a prompt POST
// {base}/completions, streamed (SSE) with every sampling parameter the
// request carried; the upstream's deltas become the job's deltas, its usage
// and finish_reason the result's, an error status a failed result with the
// upstream's status and message.

#include "backends/backend.hpp"
#include "backends/upstream/http_call.hpp"
#include "backends/upstream/upstream_url.hpp"

#include <map>
#include <string>

namespace tether::agent {

class openai_upstream final : public backend {
  public:
    // space -> upstream; the bearer keys are read from the environment now.
    explicit openai_upstream(std::map<std::string, upstream_url> upstreams, http_call_limits limits = {});

    std::string name() const override { return "upstream"; }
    std::vector<std::string> models(const std::string& space) const override;
    void run(const job& j, cancellation_token& cancel, result_sink& sink) override;

  private:
    struct served {
        upstream_url url;
        std::string key; // bearer key, "" for none
    };
    std::map<std::string, served> spaces_;
    http_call_limits limits_;
};

// The request body for `j`: model, messages or prompt, the job's params
// (every member passed through), stream with include_usage. Exposed for tests.
std::string openai_upstream_body(const job& j, const std::string& model);

} // namespace tether::agent

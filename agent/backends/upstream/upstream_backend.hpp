#pragma once
// Spaces served by an inference server already on the box (--upstream):
//  - kind openai (vLLM, llama.cpp's server, Ollama, TGI, another Tether
//    broker): a job with messages becomes POST {base}/chat/completions, one
//    with a prompt POST {base}/completions, streamed (SSE) with every
//    sampling parameter the request carried; the upstream's deltas become the
//    job's deltas, its usage and finish_reason the result's;
//  - kind http (a Gradio app, a custom service): the prompt, params and files
//    POSTed as JSON or multipart; the answer becomes the result (JSON, text,
//    a file, or an SSE stream of deltas);
//  - kind gradio: a Gradio app's /call/NAME endpoint, as Gradio's clients
//    call it (files uploaded, the result read from its event stream).
// An error status becomes a failed result with the upstream's status and
// message; an upstream that cannot be reached fails its requests at once
// (upstream_unavailable) while it is retried in the background.

#include "backends/backend.hpp"
#include "backends/upstream/http_call.hpp"
#include "backends/upstream/upstream_health.hpp"
#include "backends/upstream/upstream_url.hpp"

#include <simdjson.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tether::agent {

using header_list = std::vector<std::pair<std::string, std::string>>;

// One space's upstream: where, and the headers every call carries (a bearer
// key, headers read from the environment or the config file).
struct upstream_target {
    upstream_url url;
    header_list headers;
};

struct upstream_settings {
    std::string ca_file; // for https upstreams; "" = the system's CA certificates
    upstream_health::backoff backoff{};
    std::chrono::milliseconds start_probe_timeout{3000};
};

class upstream_backend final : public backend {
  public:
    // Probes every upstream once (logging what each serves) before returning.
    upstream_backend(std::map<std::string, upstream_target> spaces, upstream_settings settings = {});
    ~upstream_backend() override;

    std::string name() const override { return "upstream"; }
    std::vector<std::string> models(const std::string& space) const override;
    void run(const job& j, cancellation_token& cancel, result_sink& sink) override;

  private:
    struct served {
        upstream_target target;
        std::string model; // openai: the name asked for
    };
    std::string probe(const std::string& space);
    http_call_limits limits_for(const upstream_url& url, const job& j) const;

    std::map<std::string, served> spaces_;
    upstream_settings settings_;
    std::optional<boost::asio::ssl::context> tls_;
    mutable std::mutex mutex_; // guards served::model (found by a probe)
    std::unique_ptr<upstream_health> health_;
};

// What a job's call to its upstream came to, beyond what went to the sink.
struct upstream_outcome {
    bool unreachable = false; // could not connect: the upstream is down
    std::string error;
};

// Kind openai: runs `j` against `t`, asking for `model`.
upstream_outcome run_openai_job(const upstream_target& t, boost::asio::ssl::context* tls, const std::string& model,
                                const job& j, cancellation_token& cancel, result_sink& sink, const http_call_limits& limits);
// The request body for `j`: model, messages or prompt, the job's params
// (every member passed through), stream with include_usage. Exposed for tests.
std::string openai_upstream_body(const job& j, const std::string& model);
// The model names in a /models answer ({"data":[{"id":…}]}), at most 100.
std::vector<std::string> openai_model_ids(std::string_view body);

// Kind http: runs `j` against `t`.
upstream_outcome run_http_job(const upstream_target& t, boost::asio::ssl::context* tls, const job& j,
                              cancellation_token& cancel, result_sink& sink, const http_call_limits& limits);
// The request for `j` as the http kind sends it (JSON, or multipart when the
// URL says so); throws std::runtime_error when an input file cannot be read.
http_request_spec http_upstream_request(const upstream_target& t, const job& j);

// Shared by the two kinds: the message in an upstream's error body (OpenAI's
// error.message, FastAPI's detail, …), and the failed result for a call that
// failed or answered an error status (true when it did, the sink told).
std::string upstream_error_message(std::string_view body);
bool report_call_failure(const http_call_result& r, const std::string& space, const std::string& error_body,
                         cancellation_token& cancel, result_sink& sink, upstream_outcome& out);
// The member of `doc` at `path` ("data.0.text": object members, array indexes).
simdjson::simdjson_result<simdjson::dom::element> upstream_member(simdjson::dom::element doc, const std::string& path);
// A JSON value as result text: a string as itself, anything else as JSON.
std::string upstream_text(simdjson::dom::element v);

// Kind gradio: runs `j` against a Gradio app's /call/NAME endpoint.
upstream_outcome run_gradio_job(const upstream_target& t, boost::asio::ssl::context* tls, const job& j,
                                cancellation_token& cancel, result_sink& sink, const http_call_limits& limits);
// The {"data":[…]} body for `j` from the URL's inputs, with each file input
// as `upload(file)` makes it (a Gradio FileData object). Exposed for tests.
std::string gradio_call_body(const upstream_url& url, const job& j,
                             const std::function<std::string(const input_file&)>& upload);

} // namespace tether::agent

#pragma once
// An upstream a space is served from (--upstream SPACE=URL): an inference
// server already running on the agent's box, reached over HTTP or HTTPS.
//   openai+http://127.0.0.1:8000/v1#model=NAME&key_env=VAR
//   http://127.0.0.1:7860/run#body=multipart&field=data.0
//   gradio+http://127.0.0.1:7860/gradio_api/call/predict#inputs=prompt,file:audio
// Kind "openai" (the URL starts with openai+): an OpenAI-compatible server
// (/chat/completions, /completions, /models under the URL's path). Kind
// "http" (a bare http:// or https:// URL): any endpoint, POSTed the request's
// prompt, params and files. Kind "gradio" (gradio+http…): a Gradio app's
// API endpoint (.../call/NAME), called as Gradio's own clients do (files
// uploaded first, the result read from the event stream). Settings after
// '#', joined by '&':
//   model=NAME         openai: the model to ask for (default: the first the
//                      upstream lists at /models, else the space's name)
//   key_env=VAR        a bearer key read from the environment variable VAR
//   header_env=H:VAR   header H's value read from VAR (repeatable)
//   body=json|multipart  http: how the request is sent (default json)
//   field=a.b.0        http: the result's output is this member of a JSON
//                      answer (or of each JSON event of an SSE answer);
//                      gradio: of the outputs array (default 0)
//   inputs=LIST        gradio: the endpoint's inputs in order, from prompt,
//                      messages, param:NAME, file, file:FIELD (default prompt)
//   audio=wav[:RATE]   http, gradio: audio and video inputs (any format the
//                      media layer decodes) are sent as 16-bit mono WAV, at
//                      their own rate or RATE, for upstreams that read WAV only
//   timeout=DURATION   at most this long per request ("90", "500ms", "2m";
//                      default and upper bound: the request's deadline)
//   connect_timeout=DURATION  (default 5 s)
//   max_body=SIZE      the largest answer taken (default 64MiB, at most 1GiB)
// Secrets never appear in the URL: keys and headers come from the
// environment (key_env, header_env) or the agent's config file.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tether::agent {

struct upstream_url {
    std::string kind;   // "openai", "http" or "gradio"
    std::string scheme; // "http" or "https"
    std::string host;
    std::uint16_t port = 80;
    std::string base; // openai: the path prefix without a trailing slash ("/v1"); http: the whole target ("/run?x=1");
                      // gradio: the endpoint (".../call/predict")
    std::string model;
    std::string key_env;
    std::vector<std::pair<std::string, std::string>> header_env; // header name, environment variable
    bool multipart = false;
    std::string field;
    std::vector<std::string> inputs; // gradio
    bool audio_wav = false;          // audio=wav: inputs converted to WAV
    std::uint32_t audio_rate = 0;    // audio=wav:RATE (0: each file's own)
    std::optional<std::chrono::milliseconds> timeout;
    std::chrono::milliseconds connect_timeout{5000};
    std::size_t max_body = 64U << 20;

    bool tls() const { return scheme == "https"; }
    // gradio: the API's root, before "/call/" ("/gradio_api", or "" for Gradio 4).
    std::string gradio_root() const { return base.substr(0, base.rfind("/call/")); }
    // "http://host:port/base" (no settings, nothing secret).
    std::string display() const;
};

inline constexpr std::size_t max_upstream_body = std::size_t{1} << 30;

// nullopt and `error` set for anything else (other schemes or kinds, a bad
// port, an unknown setting…).
std::optional<upstream_url> parse_upstream_url(const std::string& text, std::string& error);

} // namespace tether::agent

#pragma once
// An upstream a space is served from (--upstream SPACE=URL): an inference
// server already running on the agent's box, reached over HTTP.
//   openai+http://127.0.0.1:8000/v1#model=NAME&key_env=VAR
// kind "openai": an OpenAI-compatible server (/chat/completions,
// /completions under the URL's path); `model` the name to ask for (default:
// the space's name); `key_env` the environment variable holding a bearer key
// (never the command line).

#include <cstdint>
#include <optional>
#include <string>

namespace tether::agent {

struct upstream_url {
    std::string kind;   // "openai"
    std::string scheme; // "http"
    std::string host;
    std::uint16_t port = 80;
    std::string base;   // path prefix without a trailing slash ("/v1")
    std::string model;  // "" = ask the upstream
    std::string key_env;
};

// nullopt and `error` set for anything else (https, other kinds, a bad port…).
std::optional<upstream_url> parse_upstream_url(const std::string& text, std::string& error);

} // namespace tether::agent

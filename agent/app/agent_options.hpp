#pragma once
// tether-agent's configuration: the command line (CLI11), the environment
// and an optional JSON config file, merged once into a plain struct that the
// rest of the agent takes by const&. Precedence: config file < environment <
// command line. Nothing else in the agent reads the environment.

#include "net/broker_url.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tether::agent {

struct space_option {
    std::string name;
    std::string token;
    std::optional<std::uint32_t> capacity; // else agent_options::capacity
    std::vector<std::string> models;
};

struct agent_options {
    broker_url broker;
    std::vector<space_option> spaces;
    std::string name; // agent.name at register; default: host name
    std::string backend = "mock";
    std::chrono::milliseconds delay_min{1000};
    std::chrono::milliseconds delay_max{5000};
    double fail_rate = 0.0;
    std::map<std::string, std::string> models; // SPACE -> model.pt or a Hugging Face model folder (torch)
    std::map<std::string, std::string> upstreams; // SPACE -> [openai+]http(s)://HOST:PORT/PATH#settings (any backend)
    // SPACE -> headers every call to its upstream carries: a bearer key and
    // headers from the config file, values read from the environment
    // (key_env, header_env); resolved by parsing, never from the command line.
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> upstream_headers;
    std::map<std::string, std::string> chat_templates; // SPACE -> a Jinja file for a model folder without a template (torch)
    std::string device = "auto";                // torch: auto, cpu, cuda, cuda:N
    bool half = false;                          // torch: float16 on CUDA
    std::uint32_t max_batch = 8;                // torch: dynamic batching
    std::chrono::milliseconds batch_wait{5};
    std::uint32_t torch_threads = 0;            // torch intra-op threads; 0 = libtorch's default
    std::uint32_t max_audio_seconds = 3600;     // torch, speech models: the longest upload transcribed
    std::uint32_t max_context = 4096;           // torch, model folders: prompt + answer per request, at most
    std::string dtype;                          // torch, model folders on CUDA: float16, bfloat16, float32; "" = stored
    std::uint32_t capacity = 1;
    std::uint32_t workers = 0; // 0: the sum of the spaces' capacities
    std::string ca_file;
    bool insecure = false;
    std::chrono::milliseconds grace{30'000};
    std::string log_level = "info";
    std::uint64_t max_input_bytes = 512ULL << 20;

    std::uint32_t capacity_of(const space_option& s) const { return s.capacity.value_or(capacity); }
};

// What parsing decided: run with `options`, or exit with `exit_code` after
// printing `message` (help text on stdout for 0, an error on stderr for 2).
struct options_outcome {
    std::optional<agent_options> options;
    int exit_code = 0;
    std::string message;
};

using environment = std::map<std::string, std::string>;

// The process environment as a map (called once, by main).
environment current_environment();

options_outcome parse_agent_options(int argc, const char* const* argv, const environment& env);

// "NAME=TOKEN" -> space; nullopt with `error` set when malformed.
std::optional<space_option> parse_space_assignment(const std::string& text, std::string& error);
// "0", "2", "0.2-0.5", "1-5" (seconds) -> [min, max].
bool parse_delay_range(const std::string& text, std::chrono::milliseconds& lo, std::chrono::milliseconds& hi);
bool valid_space_name(const std::string& name);
// "auto", "cpu", "cuda", "cuda:N".
bool valid_device_name(const std::string& device);

} // namespace tether::agent

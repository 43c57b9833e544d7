#include "app/agent_options.hpp"

#include "backends/upstream/upstream_url.hpp"

#include "tether/shared/log.hpp"
#include "tether/shared/units.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

extern char** environ;

namespace tether::agent {

namespace {

// A configuration mistake: becomes exit status 2 with this message.
struct config_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string default_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) == 0 && buf[0] != '\0') return buf;
    return "tether-agent";
}

std::chrono::milliseconds parse_seconds(const std::string& what, const std::string& text) {
    auto d = parse_duration(text);
    if (!d || d->count() < 0)
        throw config_error(fmt::format("{}: '{}' is not a duration (e.g. 30, 1.5, 500ms)", what, text));
    return *d;
}

// Replaces the space of the same name, or adds it; keeps a capacity/models
// given earlier unless the new one sets them.
void merge_space(std::vector<space_option>& spaces, space_option s) {
    for (auto& existing : spaces) {
        if (existing.name == s.name) {
            existing.token = std::move(s.token);
            if (s.capacity) existing.capacity = s.capacity;
            if (!s.models.empty()) existing.models = std::move(s.models);
            return;
        }
    }
    spaces.push_back(std::move(s));
}

std::string json_string_value(simdjson::ondemand::value v, const std::string& what) {
    if (v.type() != simdjson::ondemand::json_type::string) throw config_error(what + ": must be a string");
    return std::string(std::string_view(v.get_string()));
}

double json_number_value(simdjson::ondemand::value v, const std::string& what) {
    if (v.type() != simdjson::ondemand::json_type::number) throw config_error(what + ": must be a number");
    return double(v.get_double());
}

std::uint32_t json_capacity(simdjson::ondemand::value v, const std::string& what) {
    const double d = json_number_value(v, what);
    if (d < 1 || d > 1024 || std::floor(d) != d) throw config_error(what + ": must be a whole number from 1 to 1024");
    return static_cast<std::uint32_t>(d);
}

// "15", 15 or "500ms" -> duration.
std::chrono::milliseconds json_duration(simdjson::ondemand::value v, const std::string& what) {
    if (v.type() == simdjson::ondemand::json_type::number) {
        const double s = double(v.get_double());
        if (s < 0) throw config_error(what + ": must not be negative");
        return std::chrono::milliseconds{static_cast<std::int64_t>(s * 1000.0)};
    }
    return parse_seconds(what, json_string_value(v, what));
}

space_option json_space(simdjson::ondemand::object obj, const std::string& what) {
    space_option s;
    for (auto field : obj) {
        const std::string key(std::string_view(field.unescaped_key()));
        simdjson::ondemand::value v = field.value();
        std::string w = what;
        w += ".";
        w += key;
        if (key == "name" || key == "space") {
            s.name = json_string_value(v, w);
        } else if (key == "token") {
            s.token = json_string_value(v, w);
        } else if (key == "capacity") {
            s.capacity = json_capacity(v, w);
        } else if (key == "models") {
            for (auto m : v.get_array()) {
                simdjson::ondemand::value model = m.value();
                s.models.push_back(json_string_value(model, w));
            }
        } else {
            throw config_error(fmt::format("{}: unknown setting", w));
        }
    }
    return s;
}

// Applies a JSON config file onto `o`. The broker URL and delay come back as
// text so the command line can still override them before validation.
void load_config_file(const std::string& path, agent_options& o, std::string& broker, std::string& delay) {
    auto json = simdjson::padded_string::load(path);
    if (json.error()) throw config_error(fmt::format("config file {}: cannot read it", path));
    simdjson::ondemand::parser parser;
    try {
        auto doc = parser.iterate(json.value());
        simdjson::ondemand::object root = doc.get_object();
        for (auto field : root) {
            const std::string key(std::string_view(field.unescaped_key()));
            simdjson::ondemand::value v = field.value();
            if (key == "broker") {
                broker = json_string_value(v, key);
            } else if (key == "name") {
                o.name = json_string_value(v, key);
            } else if (key == "backend") {
                o.backend = json_string_value(v, key);
            } else if (key == "delay") {
                delay = v.type() == simdjson::ondemand::json_type::number ? fmt::format("{}", double(v.get_double()))
                                                                          : json_string_value(v, key);
            } else if (key == "fail_rate") {
                o.fail_rate = json_number_value(v, key);
            } else if (key == "capacity") {
                o.capacity = json_capacity(v, key);
            } else if (key == "workers") {
                o.workers = json_capacity(v, key);
            } else if (key == "ca_file") {
                o.ca_file = json_string_value(v, key);
            } else if (key == "insecure") {
                if (v.type() != simdjson::ondemand::json_type::boolean)
                    throw config_error("insecure: must be true or false");
                o.insecure = bool(v.get_bool());
            } else if (key == "grace") {
                o.grace = json_duration(v, key);
            } else if (key == "log_level") {
                o.log_level = json_string_value(v, key);
            } else if (key == "max_input") {
                const auto text = v.type() == simdjson::ondemand::json_type::number
                                      ? fmt::format("{}", std::uint64_t(v.get_uint64()))
                                      : json_string_value(v, key);
                auto size = parse_size(text);
                if (!size) throw config_error(fmt::format("max_input: '{}' is not a size", text));
                o.max_input_bytes = *size;
            } else if (key == "device") {
                o.device = json_string_value(v, key);
            } else if (key == "half") {
                if (v.type() != simdjson::ondemand::json_type::boolean)
                    throw config_error("half: must be true or false");
                o.half = bool(v.get_bool());
            } else if (key == "max_batch") {
                o.max_batch = json_capacity(v, key);
            } else if (key == "batch_wait_ms") {
                const double ms = json_number_value(v, key);
                if (ms < 0 || ms > 10000) throw config_error("batch_wait_ms: must be from 0 to 10000");
                o.batch_wait = std::chrono::milliseconds(static_cast<std::int64_t>(ms));
            } else if (key == "torch_threads") {
                o.torch_threads = json_capacity(v, key);
            } else if (key == "max_audio_seconds") {
                o.max_audio_seconds = static_cast<std::uint32_t>(json_number_value(v, key));
            } else if (key == "max_context") {
                o.max_context = static_cast<std::uint32_t>(json_number_value(v, key));
            } else if (key == "dtype") {
                o.dtype = json_string_value(v, key);
            } else if (key == "upstreams") {
                // "SPACE": "URL", or "SPACE": {"url": URL, "key": KEY, "headers": {NAME: VALUE}}.
                for (auto m : v.get_object()) {
                    const std::string name(std::string_view(m.unescaped_key()));
                    simdjson::ondemand::value item = m.value();
                    const std::string what = "upstreams." + name;
                    if (item.type() == simdjson::ondemand::json_type::string) {
                        o.upstreams[name] = json_string_value(item, what);
                        continue;
                    }
                    auto& headers = o.upstream_headers[name];
                    headers.clear();
                    for (auto f : item.get_object()) {
                        const std::string field(std::string_view(f.unescaped_key()));
                        simdjson::ondemand::value fv = f.value();
                        if (field == "url") o.upstreams[name] = json_string_value(fv, what + ".url");
                        else if (field == "key") headers.emplace_back("Authorization", "Bearer " + json_string_value(fv, what + ".key"));
                        else if (field == "headers") {
                            for (auto h : fv.get_object()) {
                                const std::string header(std::string_view(h.unescaped_key()));
                                simdjson::ondemand::value hv = h.value();
                                headers.emplace_back(header, json_string_value(hv, what + ".headers." + header));
                            }
                        } else {
                            throw config_error(fmt::format("{}: unknown setting '{}' (url, key, headers)", what, field));
                        }
                    }
                    if (!o.upstreams.count(name)) throw config_error(what + ": no url");
                }
            } else if (key == "chat_templates" || key == "models") {
                auto& into = key == "models" ? o.models : o.chat_templates;
                for (auto m : v.get_object()) {
                    const std::string name(std::string_view(m.unescaped_key()));
                    simdjson::ondemand::value item = m.value();
                    into[name] = json_string_value(item, key + "." + name);
                }
            } else if (key == "spaces") {
                std::size_t i = 0;
                for (auto item : v.get_array()) {
                    simdjson::ondemand::object obj = item.get_object();
                    auto s = json_space(obj, fmt::format("spaces[{}]", i++));
                    merge_space(o.spaces, std::move(s));
                }
            } else {
                throw config_error(fmt::format("config file {}: unknown setting '{}'", path, key));
            }
        }
    } catch (const simdjson::simdjson_error& e) {
        throw config_error(fmt::format("config file {}: not valid JSON of the expected shape ({})", path, e.what()));
    } catch (const config_error& e) {
        throw config_error(fmt::format("config file {}: {}", path, e.what()));
    }
}

void apply_environment(const environment& env, agent_options& o, std::string& broker) {
    if (auto it = env.find("TETHER_BROKER"); it != env.end() && !it->second.empty()) broker = it->second;
    if (auto it = env.find("TETHER_SPACES"); it != env.end() && !it->second.empty()) {
        std::string_view list = it->second;
        while (!list.empty()) {
            const auto comma = list.find(',');
            std::string_view piece = list.substr(0, comma);
            while (!piece.empty() && piece.front() == ' ')
                piece.remove_prefix(1);
            while (!piece.empty() && piece.back() == ' ')
                piece.remove_suffix(1);
            const std::string item(piece);
            list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
            if (item.empty()) continue;
            std::string error;
            auto s = parse_space_assignment(item, error);
            if (!s) throw config_error("TETHER_SPACES: " + error);
            merge_space(o.spaces, std::move(*s));
        }
    }
    constexpr std::string_view prefix = "TETHER_SPACE_";
    for (const auto& [key, value] : env) {
        if (!key.starts_with(prefix) || key.size() == prefix.size()) continue;
        space_option s;
        s.name = key.substr(prefix.size());
        s.token = value;
        if (!valid_space_name(s.name))
            throw config_error(fmt::format("{}: '{}' is not a valid space name", key, s.name));
        if (s.token.empty()) throw config_error(fmt::format("{}: the token is empty", key));
        merge_space(o.spaces, std::move(s));
    }
}

void validate(agent_options& o, const std::string& broker, const std::string& delay, const environment& env) {
    if (broker.empty()) throw config_error("no broker given: use --broker ws://HOST:PORT/agent (or TETHER_BROKER)");
    std::string error;
    auto url = parse_broker_url(broker, error);
    if (!url) throw config_error(fmt::format("--broker '{}': {}", broker, error));
    o.broker = *url;
    if (!delay.empty() && !parse_delay_range(delay, o.delay_min, o.delay_max)) {
        throw config_error(fmt::format("--delay '{}': expected SECONDS or MIN-MAX, e.g. 2 or 0.5-3", delay));
    }
    if (o.spaces.empty())
        throw config_error("no space given: use --space NAME=TOKEN (or TETHER_SPACE_<NAME>, a config file)");
    for (const auto& s : o.spaces) {
        if (!valid_space_name(s.name))
            throw config_error(fmt::format("space '{}': names are [A-Za-z0-9_.-]{{1,64}}", s.name));
        if (s.token.empty()) throw config_error(fmt::format("space '{}': no token", s.name));
    }
    if (o.backend != "mock" && o.backend != "torch") {
        throw config_error(fmt::format("--backend '{}': expected mock or torch", o.backend));
    }
    if (!valid_device_name(o.device))
        throw config_error(fmt::format("--device '{}': expected auto, cpu, cuda or cuda:N", o.device));
    if (o.max_batch < 1 || o.max_batch > 1024) throw config_error("--max-batch: must be from 1 to 1024");
    if (o.max_audio_seconds < 1 || o.max_audio_seconds > 86400)
        throw config_error("--max-audio-seconds: must be from 1 to 86400");
    if (o.max_context < 16 || o.max_context > (1U << 22)) throw config_error("--max-context: must be from 16 to 4194304");
    if (!o.dtype.empty() && o.dtype != "float16" && o.dtype != "bfloat16" && o.dtype != "float32")
        throw config_error(fmt::format("--dtype '{}': expected float16, bfloat16 or float32", o.dtype));
    for (const auto& [space, url] : o.upstreams) {
        std::string error;
        const auto u = parse_upstream_url(url, error);
        if (!u) throw config_error(fmt::format("--upstream {}={}: {}", space, url, error));
        // Secrets named by the URL come from the environment, now: a missing
        // one is a mistake to say at start, not a 401 on every request.
        auto& headers = o.upstream_headers[space];
        auto from_env = [&](const std::string& var) {
            auto it = env.find(var);
            if (it == env.end() || it->second.empty())
                throw config_error(fmt::format("--upstream {}: the environment variable {} is not set", space, var));
            for (const char c : it->second)
                if (c == '\r' || c == '\n' || c == '\0')
                    throw config_error(fmt::format("--upstream {}: ${} holds a line break", space, var));
            return it->second;
        };
        if (!u->key_env.empty()) headers.emplace_back("Authorization", "Bearer " + from_env(u->key_env));
        for (const auto& [header, var] : u->header_env) headers.emplace_back(header, from_env(var));
        for (const auto& [header, value] : headers)
            if (header.empty() || header.find_first_of(": \r\n") != std::string::npos ||
                value.find_first_of("\r\n") != std::string::npos)
                throw config_error(fmt::format("upstreams.{}: header '{}' is not a valid header", space, header));
        const std::string& name = space;
        if (std::none_of(o.spaces.begin(), o.spaces.end(), [&](const auto& s) { return s.name == name; }))
            throw config_error(fmt::format("--upstream {}={}: no space '{}' is served (--space {}=TOKEN)", space, url,
                                           space, space));
        if (o.models.count(space))
            throw config_error(fmt::format("space '{}' has both --model and --upstream: choose one", space));
    }
    if (o.backend == "torch") {
        for (const auto& s : o.spaces)
            if (!o.models.count(s.name) && !o.upstreams.count(s.name))
                throw config_error(fmt::format("space '{}' has no model: use --model {}=PATH.pt or --model {}=MODEL_DIR",
                                               s.name, s.name, s.name));
    }
    for (const auto& [space, path] : o.chat_templates) {
        const auto m = o.models.find(space);
        if (m == o.models.end() || !std::filesystem::is_directory(m->second))
            throw config_error(fmt::format("--chat-template {}={}: space '{}' is not served from a model folder (--model "
                                           "{}=MODEL_DIR)",
                                           space, path, space, space));
    }
    for (const auto& [space, path] : o.models) {
        // By name, not a structured binding: C++20 lets a lambda capture one,
        // clang before 16 does not.
        const std::string& name = space;
        const bool served = std::any_of(o.spaces.begin(), o.spaces.end(), [&](const auto& s) { return s.name == name; });
        if (!served)
            throw config_error(fmt::format("--model {}={}: no space '{}' is served (--space {}=TOKEN)", space, path,
                                           space, space));
    }
    if (!(o.fail_rate >= 0.0 && o.fail_rate <= 1.0)) throw config_error("--fail-rate: must be between 0 and 1");
    if (o.capacity < 1 || o.capacity > 1024) throw config_error("--capacity: must be from 1 to 1024");
    log::level lvl{};
    if (!log::parse_level(o.log_level, lvl)) {
        throw config_error(fmt::format("--log-level '{}': expected debug, info, warn, error or off", o.log_level));
    }
    if (o.insecure && !o.ca_file.empty()) throw config_error("--insecure and --ca-file contradict each other");
    if (o.name.empty()) o.name = default_name();
}

} // namespace

bool valid_space_name(const std::string& name) {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '.' || c == '-';
        if (!ok) return false;
    }
    return true;
}

bool valid_device_name(const std::string& device) {
    if (device == "auto" || device == "cpu" || device == "cuda") return true;
    if (device.rfind("cuda:", 0) != 0 || device.size() == 5 || device.size() > 8) return false;
    return std::all_of(device.begin() + 5, device.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<space_option> parse_space_assignment(const std::string& text, std::string& error) {
    const auto eq = text.find('=');
    if (eq == std::string::npos) {
        error = fmt::format("'{}' is not NAME=TOKEN", text);
        return std::nullopt;
    }
    space_option s;
    s.name = text.substr(0, eq);
    s.token = text.substr(eq + 1);
    if (!valid_space_name(s.name)) {
        error = fmt::format("'{}' is not a valid space name ([A-Za-z0-9_.-]{{1,64}})", s.name);
        return std::nullopt;
    }
    if (s.token.empty()) {
        error = fmt::format("space '{}' has an empty token", s.name);
        return std::nullopt;
    }
    return s;
}

bool parse_delay_range(const std::string& text, std::chrono::milliseconds& lo, std::chrono::milliseconds& hi) {
    const auto dash = text.find('-');
    const std::string a = text.substr(0, dash);
    const std::string b = dash == std::string::npos ? a : text.substr(dash + 1);
    auto da = parse_duration(a);
    auto db = parse_duration(b);
    if (!da || !db || da->count() < 0 || db->count() < 0 || *db < *da) return false;
    lo = *da;
    hi = *db;
    return true;
}

environment current_environment() {
    environment env;
    for (char** e = environ; e && *e; ++e) {
        std::string_view kv(*e);
        const auto eq = kv.find('=');
        if (eq == std::string_view::npos) continue;
        env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
    return env;
}

options_outcome parse_agent_options(int argc, const char* const* argv, const environment& env) {
    CLI::App app{"tether-agent: serves inference for Tether spaces over one outbound WebSocket to the broker.\n"
                 "Tokens may also come from TETHER_SPACE_<NAME>=TOKEN, TETHER_SPACES=\"A=tok,B=tok\" or --config;\n"
                 "the broker URL from TETHER_BROKER. Exit status: 0 stopped cleanly, 1 fatal error,\n"
                 "2 bad command line or config, 3 the broker refused a space (bad token, unknown space, protocol)."};
    app.set_version_flag("--version", "tether-agent 0.1.0");
    std::string broker, delay, config, max_input, grace, fail_rate, log_level;
    std::vector<std::string> spaces, models, chat_templates, upstreams;
    std::string backend, name, ca_file;
    std::uint32_t workers = 0, max_batch = 0, torch_threads = 0, max_context = 0, max_audio_seconds = 0;
    std::string device, batch_wait, dtype;
    bool insecure = false, half = false;
    app.add_option("--broker", broker, "Broker agent endpoint: ws://HOST:PORT/agent or wss://HOST:PORT/agent");
    app.add_option("--space", spaces, "A space to serve, NAME=TOKEN (repeatable)");
    app.add_option("--backend", backend, "mock or torch (default mock)");
    app.add_option("--delay", delay,
                   "mock: reply delay in seconds, SECONDS or MIN-MAX (default 1-5; 0 for benchmarks)");
    app.add_option("--fail-rate", fail_rate, "mock: chance 0.0-1.0 that a request fails with model_error");
    app.add_option("--model", models,
                   "torch: SPACE=model.pt (TorchScript; its sidecar is model.json) or SPACE=DIR (a Hugging Face "
                   "model folder: config.json, *.safetensors, tokenizer.json), the model serving SPACE (repeatable)");
    app.add_option("--upstream", upstreams,
                   "SPACE=openai+http(s)://HOST:PORT/v1[#model=NAME&key_env=VAR] (an OpenAI-compatible server) or "
                   "SPACE=http(s)://HOST:PORT/PATH[#body=multipart&field=a.b] (any HTTP endpoint) or "
                   "SPACE=gradio+http(s)://HOST:PORT/gradio_api/call/NAME[#inputs=prompt,file] (a Gradio app): serve SPACE from a "
                   "server on this box (repeatable; keys from the environment: key_env=VAR, header_env=HEADER:VAR; "
                   "see docs/operator.md)");
    app.add_option("--chat-template", chat_templates,
                   "torch: SPACE=FILE, a Jinja chat template for a model folder that has none (repeatable)");
    app.add_option("--device", device, "torch: auto, cpu, cuda or cuda:N (default auto: CUDA when present)");
    app.add_flag("--half", half, "torch: run models in float16 on CUDA");
    app.add_option("--max-batch", max_batch, "torch: most requests per forward call when capacity > 1 (default 8)");
    app.add_option("--batch-wait-ms", batch_wait,
                   "torch: how long the first request waits for others to batch with (default 5)");
    app.add_option("--torch-threads", torch_threads, "torch: intra-op threads (default: libtorch's choice)");
    app.add_option("--max-context", max_context,
                   "torch, model folders: most tokens (prompt and answer) per request; the KV cache holds this "
                   "many per slot (default 4096, at most the model's context)");
    app.add_option("--max-audio-seconds", max_audio_seconds,
                   "torch, speech models: the longest audio a request may send, in seconds (default 3600)");
    app.add_option("--dtype", dtype,
                   "torch, model folders on CUDA: float16, bfloat16 or float32 (default: as stored; the CPU "
                   "always computes in float32)");
    std::vector<std::string> capacities;
    app.add_option("--capacity", capacities, "Requests in flight per space: N for every space, NAME=N for one (repeatable; default 1)");
    app.add_option("--workers", workers, "Inference threads (default: the sum of the spaces' capacities)");
    app.add_option("--name", name, "Agent name shown by the broker (default: host name)");
    app.add_option("--config", config, "JSON config file (settings and spaces; flags override it)");
    app.add_option("--ca-file", ca_file, "PEM file of CA certificates to trust for wss:// and https:// upstreams (default: system store)");
    app.add_flag("--insecure", insecure,
                 "wss://: do not verify the broker's certificate (self-signed test setups only)");
    app.add_option("--grace", grace, "On SIGTERM, how long in-flight requests may finish (default 30 s)");
    app.add_option("--log-level", log_level, "debug, info, warn, error or off (default info)");
    app.add_option("--max-input", max_input, "Largest total of input files per request (default 512MiB)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        return {std::nullopt, 0, app.help()};
    } catch (const CLI::CallForVersion&) {
        return {std::nullopt, 0, "tether-agent 0.1.0\n"};
    } catch (const CLI::ParseError& e) {
        return {std::nullopt, 2, fmt::format("tether-agent: {}\nRun with --help for more information.\n", e.what())};
    }

    agent_options o;
    try {
        std::string url, delay_text;
        if (!config.empty()) load_config_file(config, o, url, delay_text);
        apply_environment(env, o, url);
        if (!broker.empty()) url = broker;
        if (!delay.empty()) delay_text = delay;
        for (const auto& s : spaces) {
            std::string error;
            auto sp = parse_space_assignment(s, error);
            if (!sp) throw config_error("--space: " + error);
            merge_space(o.spaces, std::move(*sp));
        }
        // --model, --upstream, --chat-template: SPACE=VALUE, repeatable.
        auto assignments = [](const std::vector<std::string>& given, const char* flag, const char* shape,
                              std::map<std::string, std::string>& into) {
            for (const auto& a : given) {
                const auto eq = a.find('=');
                if (eq == std::string::npos || eq == 0 || eq + 1 == a.size())
                    throw config_error(fmt::format("{} '{}': expected {}", flag, a, shape));
                into[a.substr(0, eq)] = a.substr(eq + 1);
            }
        };
        assignments(models, "--model", "NAME=model.pt or NAME=MODEL_DIR", o.models);
        assignments(upstreams, "--upstream", "SPACE=URL", o.upstreams);
        assignments(chat_templates, "--chat-template", "SPACE=FILE", o.chat_templates);
        if (!backend.empty()) o.backend = backend;
        if (!name.empty()) o.name = name;
        if (!ca_file.empty()) o.ca_file = ca_file;
        if (insecure) o.insecure = true;
        if (!log_level.empty()) o.log_level = log_level;
        for (const auto& c : capacities) {
            const auto eq = c.find('=');
            const std::string number = eq == std::string::npos ? c : c.substr(eq + 1);
            char* end = nullptr;
            const unsigned long n = std::strtoul(number.c_str(), &end, 10);
            if (number.empty() || *end != '\0' || n < 1 || n > 1024)
                throw config_error(fmt::format("--capacity '{}': expected N or NAME=N, N from 1 to 1024", c));
            if (eq == std::string::npos) {
                o.capacity = static_cast<std::uint32_t>(n);
                continue;
            }
            const std::string name = c.substr(0, eq);
            auto it = std::find_if(o.spaces.begin(), o.spaces.end(), [&](const auto& sp) { return sp.name == name; });
            if (it == o.spaces.end())
                throw config_error(fmt::format("--capacity {}: no space '{}' is served (--space {}=TOKEN)", c, name, name));
            it->capacity = static_cast<std::uint32_t>(n);
        }
        if (app.count("--workers") > 0) o.workers = workers;
        if (!grace.empty()) o.grace = parse_seconds("--grace", grace);
        if (!device.empty()) o.device = device;
        if (half) o.half = true;
        if (app.count("--max-batch") > 0) o.max_batch = max_batch;
        if (app.count("--torch-threads") > 0) o.torch_threads = torch_threads;
        if (app.count("--max-context") > 0) o.max_context = max_context;
        if (app.count("--max-audio-seconds") > 0) o.max_audio_seconds = max_audio_seconds;
        if (!dtype.empty()) o.dtype = dtype;
        if (!batch_wait.empty()) {
            char* end = nullptr;
            const double ms = std::strtod(batch_wait.c_str(), &end);
            if (end == batch_wait.c_str() || *end != '\0' || !(ms >= 0 && ms <= 10000))
                throw config_error(fmt::format("--batch-wait-ms '{}': expected milliseconds from 0 to 10000", batch_wait));
            o.batch_wait = std::chrono::milliseconds(static_cast<std::int64_t>(ms));
        }
        if (!fail_rate.empty()) {
            try {
                std::size_t used = 0;
                o.fail_rate = std::stod(fail_rate, &used);
                if (used != fail_rate.size()) throw std::invalid_argument("trailing text");
            } catch (const std::logic_error&) {
                throw config_error(fmt::format("--fail-rate '{}': expected a number from 0 to 1", fail_rate));
            }
        }
        if (!max_input.empty()) {
            auto size = parse_size(max_input);
            if (!size || *size == 0)
                throw config_error(fmt::format("--max-input '{}': not a size (e.g. 256MiB)", max_input));
            o.max_input_bytes = *size;
        }
        validate(o, url, delay_text, env);
    } catch (const config_error& e) {
        return {std::nullopt, 2, fmt::format("tether-agent: {}\nRun with --help for more information.\n", e.what())};
    }
    return {std::move(o), 0, {}};
}

} // namespace tether::agent

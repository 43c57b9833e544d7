#include "app/agent_setup.hpp"

#include "backends/mock/mock_backend.hpp"
#include "backends/routing_backend.hpp"
#include "backends/upstream/upstream_backend.hpp"
#ifdef TETHER_HAVE_TORCH
#include "backends/torch/torch_backend.hpp"
#endif

#include "tether/shared/ids.hpp"

namespace tether::agent {

namespace {

std::unique_ptr<backend> make_main_backend(const agent_options& opts) {
    if (opts.backend == "mock") {
        mock_options m;
        m.delay_min = opts.delay_min;
        m.delay_max = opts.delay_max;
        m.fail_rate = opts.fail_rate;
        return std::make_unique<mock_backend>(m);
    }
#ifdef TETHER_HAVE_TORCH
    if (opts.backend == "torch") {
        torch_options t;
        t.models = opts.models;
        t.chat_templates = opts.chat_templates;
        for (const auto& s : opts.spaces)
            t.capacity[s.name] = opts.capacity_of(s);
        t.device = opts.device;
        t.half = opts.half;
        t.max_batch = opts.max_batch;
        t.batch_wait = opts.batch_wait;
        t.torch_threads = opts.torch_threads;
        t.max_context = opts.max_context;
        t.max_audio_seconds = opts.max_audio_seconds;
        t.dtype = opts.dtype;
        try {
            return std::make_unique<torch_backend>(t);
        } catch (const std::runtime_error& e) {
            // A model that does not load or does not match its sidecar is a
            // configuration mistake: exit 2, so a service manager stops retrying.
            throw usage_error(e.what());
        }
    }
#endif
    throw usage_error("--backend " + opts.backend + ": this build of tether-agent has no " + opts.backend + " backend");
}

} // namespace

std::unique_ptr<backend> make_backend(const agent_options& opts) {
    auto main = make_main_backend(opts);
    if (opts.upstreams.empty()) return main;
    std::map<std::string, upstream_target> targets;
    std::map<std::string, bool> spaces;
    for (const auto& [space, text] : opts.upstreams) {
        std::string error;
        auto u = parse_upstream_url(text, error);
        if (!u) throw usage_error("--upstream " + space + "=" + text + ": " + error);
        upstream_target t;
        t.url = std::move(*u);
        if (auto h = opts.upstream_headers.find(space); h != opts.upstream_headers.end()) t.headers = h->second;
        targets.emplace(space, std::move(t));
        spaces.emplace(space, true);
    }
    upstream_settings settings;
    settings.ca_file = opts.ca_file;
    std::unique_ptr<backend> upstreams;
    try {
        upstreams = std::make_unique<upstream_backend>(std::move(targets), settings);
    } catch (const std::invalid_argument& e) {
        throw usage_error(e.what());
    }
    return std::make_unique<routing_backend>(std::move(main), std::move(upstreams), std::move(spaces));
}

runner_settings make_runner_settings(const agent_options& opts, const backend& be) {
    runner_settings rs;
    rs.grace = opts.grace;
    rs.ca_file = opts.ca_file;
    rs.insecure = opts.insecure;
    auto& c = rs.connection;
    c.url = opts.broker;
    c.blobs.max_request_bytes = opts.max_input_bytes;
    c.blobs.max_file_bytes = opts.max_input_bytes;
    auto& reg = c.registration;
    reg.protocol = protocol::version;
    reg.agent.name = opts.name;
    reg.agent.version = "0.1.0";
    // Once per process, kept across reconnects, so the broker lets this
    // process replace its own stale socket.
    reg.agent.instance = uuid::random().to_string();
    for (const auto& s : opts.spaces) {
        protocol::space_registration r;
        r.space = s.name;
        r.token = s.token;
        r.capacity = opts.capacity_of(s);
        r.models = s.models.empty() ? be.models(s.name) : s.models;
        if (auto c = be.card(s.name)) r.model = protocol::model_info{c->name, c->context_length, c->chat, c->task};
        reg.spaces.push_back(std::move(r));
    }
    return rs;
}

std::size_t worker_count(const agent_options& opts) {
    if (opts.workers > 0) return opts.workers;
    std::size_t n = 0;
    for (const auto& s : opts.spaces)
        n += opts.capacity_of(s);
    return n == 0 ? 1 : n;
}

} // namespace tether::agent

// GET /healthz, GET /readyz and GET /metrics (Prometheus text format).
#include "api/api_handler.hpp"
#include "api/json_helpers.hpp"

#include <fmt/format.h>

namespace tether::broker::api {

namespace http = boost::beast::http;

namespace {

void healthz(api_services&, api_call& call) { call.reply(json_response(http::status::ok, R"({"status":"ok"})")); }

void readyz(api_services& s, api_call& call) {
    if (s.draining->load())
        return call.reply(error_response(http::status::service_unavailable, "draining", "the broker is shutting down"));
    if (!s.st.healthy())
        return call.reply(error_response(http::status::service_unavailable, "store_unavailable",
                                         "the store cannot write (disk full or I/O error): new requests are refused"));
    call.reply(json_response(http::status::ok, R"({"status":"ready"})"));
}

// Label values may hold anything a space name allows; escape per the format anyway.
std::string label(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

void metrics(api_services& s, api_call& call) {
    struct snapshot {
        std::vector<space_view> spaces;
        std::size_t agents = 0;
        core_counters counters;
        outcome_counts outcomes;
    };
    auto snap = s.core.call([&](broker_core& c) {
        return snapshot{c.list_spaces(), c.list_agents().size(), c.counters(), s.core.outcomes()};
    });
    std::string out;
    auto add = [&](std::string_view text) { out += text; };
    add("# HELP tether_requests_total Requests that reached a terminal state, by space and outcome.\n");
    add("# TYPE tether_requests_total counter\n");
    for (const auto& [key, n] : snap.outcomes)
        add(fmt::format("tether_requests_total{{space=\"{}\",outcome=\"{}\"}} {}\n", label(key.first), key.second, n));
    add("# HELP tether_requests_submitted_total Requests accepted.\n# TYPE tether_requests_submitted_total counter\n");
    add(fmt::format("tether_requests_submitted_total {}\n", snap.counters.submitted));
    add("# HELP tether_requests_rejected_total Submissions refused because the queue was full.\n");
    add("# TYPE tether_requests_rejected_total counter\n");
    add(fmt::format("tether_requests_rejected_total {}\n", snap.counters.rejected_queue_full));
    add("# HELP tether_requests_requeued_total Requests sent back to the queue after an agent loss.\n");
    add("# TYPE tether_requests_requeued_total counter\n");
    add(fmt::format("tether_requests_requeued_total {}\n", snap.counters.requeued));
    add("# HELP tether_results_dropped_total Agent results not used (late, wrong agent, unknown).\n");
    add("# TYPE tether_results_dropped_total counter\n");
    add(fmt::format("tether_results_dropped_total{{reason=\"late\"}} {}\n", snap.counters.results_late));
    add(fmt::format("tether_results_dropped_total{{reason=\"wrong_agent\"}} {}\n", snap.counters.results_wrong_agent));
    add(fmt::format("tether_results_dropped_total{{reason=\"unknown\"}} {}\n", snap.counters.results_unknown));
    add("# HELP tether_queue_length Requests waiting, per space.\n# TYPE tether_queue_length gauge\n");
    for (const auto& sp : snap.spaces)
        add(fmt::format("tether_queue_length{{space=\"{}\"}} {}\n", label(sp.config.name), sp.queue_length));
    add("# HELP tether_space_connected Whether the space has an agent.\n# TYPE tether_space_connected gauge\n");
    for (const auto& sp : snap.spaces)
        add(fmt::format("tether_space_connected{{space=\"{}\"}} {}\n", label(sp.config.name), sp.connected ? 1 : 0));
    add("# HELP tether_agents_connected Registered agent connections.\n# TYPE tether_agents_connected gauge\n");
    add(fmt::format("tether_agents_connected {}\n", snap.agents));
    const auto& n = *s.counters;
    add("# HELP tether_agent_frames_total WebSocket frames on agent connections.\n");
    add("# TYPE tether_agent_frames_total counter\n");
    add(fmt::format("tether_agent_frames_total{{direction=\"in\"}} {}\n", n.frames_in.load()));
    add(fmt::format("tether_agent_frames_total{{direction=\"out\"}} {}\n", n.frames_out.load()));
    add("# HELP tether_agent_bytes_total Payload bytes on agent connections.\n");
    add("# TYPE tether_agent_bytes_total counter\n");
    add(fmt::format("tether_agent_bytes_total{{direction=\"in\"}} {}\n", n.bytes_in.load()));
    add(fmt::format("tether_agent_bytes_total{{direction=\"out\"}} {}\n", n.bytes_out.load()));
    add("# HELP tether_http_requests_total HTTP requests read.\n# TYPE tether_http_requests_total counter\n");
    add(fmt::format("tether_http_requests_total {}\n", n.http_requests.load()));
    add("# HELP tether_connections Open TCP connections.\n# TYPE tether_connections gauge\n");
    add(fmt::format("tether_connections {}\n", n.connections.load()));
    add("# HELP tether_sse_streams Open event streams.\n# TYPE tether_sse_streams gauge\n");
    add(fmt::format("tether_sse_streams {}\n", n.sse_streams.load()));
    add("# HELP tether_store_commits_total Store transactions (group commits) and snapshots written.\n");
    add("# TYPE tether_store_commits_total counter\n");
    add(fmt::format("tether_store_commits_total {}\n", s.st.commit_batches()));
    add(fmt::format("# TYPE tether_store_writes_total counter\ntether_store_writes_total {}\n", s.st.committed_writes()));
    add("# HELP tether_store_coalesced_total Snapshots replaced by a newer one of the same request before the writer took them.\n");
    add(fmt::format("# TYPE tether_store_coalesced_total counter\ntether_store_coalesced_total {}\n",
                    s.st.coalesced_writes()));

    add("# HELP tether_store_healthy 1 while the store's writes succeed, 0 after a failed one (disk full, I/O error).\n");
    add(fmt::format("# TYPE tether_store_healthy gauge\ntether_store_healthy {}\n", s.st.healthy() ? 1 : 0));
    add("# HELP tether_store_retry_pending Request snapshots waiting to be written again after a failed write.\n");
    add(fmt::format("# TYPE tether_store_retry_pending gauge\ntether_store_retry_pending {}\n",
                    s.st.writes_waiting_retry()));
    if (s.retention != nullptr) {
        const auto& r = *s.retention;
        add("# HELP tether_retention_removed_total Finished requests deleted by retention, by reason.\n");
        add("# TYPE tether_retention_removed_total counter\n");
        add(fmt::format("tether_retention_removed_total{{reason=\"age\"}} {}\n", r.removed_age.load()));
        add(fmt::format("tether_retention_removed_total{{reason=\"size\"}} {}\n", r.removed_size.load()));
        add("# HELP tether_retention_removed_bytes_total Bytes of request files deleted by retention.\n");
        add(fmt::format("# TYPE tether_retention_removed_bytes_total counter\ntether_retention_removed_bytes_total {}\n",
                        r.removed_file_bytes.load()));
        add("# HELP tether_retention_passes_total Retention passes run.\n");
        add(fmt::format("# TYPE tether_retention_passes_total counter\ntether_retention_passes_total {}\n",
                        r.passes.load()));
        add("# HELP tether_data_bytes The data directory's size as retention last measured it (database pages in use + request files).\n");
        add(fmt::format("# TYPE tether_data_bytes gauge\ntether_data_bytes {}\n", r.data_bytes.load()));
    }

    if (s.latency != nullptr) out += s.latency->render();

    net::string_response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(out);
    res.prepare_payload();
    call.reply(std::move(res));
}

} // namespace

void add_ops_routes(router& r) {
    r.add(http::verb::get, "/healthz", access::anyone, healthz);
    r.add(http::verb::get, "/readyz", access::anyone, readyz);
    r.add(http::verb::get, "/metrics", access::anyone, metrics);
}

} // namespace tether::broker::api

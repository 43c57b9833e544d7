#pragma once
// What every API handler gets: the request, the caller, path parameters, and
// the services it may use (store, blobs, core). Handlers run on the API
// worker pool, so blocking store calls are fine there; answers go through
// `ex`, which may be moved into callbacks that answer later.

#include "api/auth.hpp"
#include "api/core_access.hpp"
#include "api/metrics_latency.hpp"
#include "core/rate_limiter.hpp"
#include "net/http_types.hpp"
#include "net/session_context.hpp"
#include "store/blob_store.hpp"
#include "store/retention.hpp"
#include "store/store.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tether::broker::api {

class stream_registry;

struct api_options {
    std::uint64_t max_upload = 256ULL << 20; // one multipart request
    std::uint64_t max_json = 1U << 20;       // any other body
    std::filesystem::path web_dir;           // static files; empty: none
    std::filesystem::path spool_dir;         // where uploads land before they get a request id
    bool tls = false;
    long session_max_age_s = 7 * 24 * 3600;
    std::chrono::seconds sse_keepalive{15};
};

struct api_services {
    api_options options;
    store& st;
    const blob_store& blobs;
    core_access& core;
    std::shared_ptr<net::net_counters> counters;
    std::shared_ptr<std::atomic<bool>> draining; // set at shutdown: new submissions get 503
    rate_limiter* limiter = nullptr;             // null: no rate limits
    latency_metrics* latency = nullptr;          // null: no latency histograms
    stream_registry* streams = nullptr;          // null: streams are not tracked for revocation
    const retention_stats* retention = nullptr;  // null: no retention figures in /metrics
    // Applies a change to accounts or spaces everywhere (core, streams)
    // before returning; admin handlers call it after changing the store.
    std::function<void()> sync_config{};
    // Runs `f` on the API worker pool, where blocking (store reads) is fine;
    // for non-blocking handlers that find they need to block after all.
    // Set by api_handler.
    std::function<void(std::function<void()>)> run_blocking{};
};

struct api_call {
    net::incoming_request req;
    std::shared_ptr<net::http_exchange> ex;
    std::string path;  // decoded? no: raw path without the query
    std::string query; // raw, after '?'
    std::vector<std::string> params; // path parameters, percent-decoded, in order
    caller who;

    void reply(net::string_response r) { ex->respond(std::move(r)); }
    std::string_view header(boost::beast::http::field f) const {
        auto v = req.msg[f];
        return {v.data(), v.size()};
    }
    std::string_view header(std::string_view name) const {
        auto v = req.msg[name];
        return {v.data(), v.size()};
    }
    // A query parameter, percent-decoded; nullopt if absent.
    std::optional<std::string> query_param(std::string_view name) const;
};

using handler_fn = std::function<void(api_services&, api_call&)>;

// "%41+b" -> "A b" (plus as space only when `plus_space`); nullopt on bad escapes.
std::optional<std::string> percent_decode(std::string_view s, bool plus_space);

} // namespace tether::broker::api

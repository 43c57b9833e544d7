#include "backends/upstream/upstream_backend.hpp"
#include "backends/upstream/upstream_media.hpp"

#include "tether/shared/log.hpp"

#include <fmt/format.h>

namespace tether::agent {
namespace {

using steady = std::chrono::steady_clock;
using system_clock = std::chrono::system_clock;

// A cancellation token nobody cancels, for probes.
cancellation_token& never_cancelled() {
    static cancellation_token t;
    return t;
}

} // namespace

upstream_backend::upstream_backend(std::map<std::string, upstream_target> spaces, upstream_settings settings)
    : settings_(std::move(settings)) {
    bool any_tls = false;
    std::vector<std::string> names;
    for (auto& [space, t] : spaces) {
        any_tls = any_tls || t.url.tls();
        served s;
        s.model = t.url.model;
        s.target = std::move(t);
        names.push_back(space);
        spaces_.emplace(space, std::move(s));
    }
    if (any_tls) tls_.emplace(make_upstream_tls(settings_.ca_file));
    health_ = std::make_unique<upstream_health>([this](const std::string& space) { return probe(space); }, settings_.backoff);
    health_->start(names);
}

upstream_backend::~upstream_backend() { health_.reset(); }

std::vector<std::string> upstream_backend::models(const std::string& space) const {
    auto it = spaces_.find(space);
    if (it == spaces_.end()) return {};
    std::lock_guard lock(mutex_);
    if (it->second.target.url.kind != "openai") return {};
    return {it->second.model.empty() ? space : it->second.model};
}

// Does the upstream answer? The openai kind lists its models (and, without
// #model=, the first becomes the one asked for); the http kind is connected
// to (and its TLS handshake done), never called: a POST could do work.
std::string upstream_backend::probe(const std::string& space) {
    served& s = spaces_.at(space);
    const upstream_url& url = s.target.url;
    http_call_limits limits;
    limits.connect_timeout = std::min(url.connect_timeout, settings_.start_probe_timeout);
    limits.idle_timeout = settings_.start_probe_timeout;
    limits.deadline = steady::now() + 2 * settings_.start_probe_timeout;
    limits.max_body = 4U << 20;
    http_request_spec req;
    const bool openai = url.kind == "openai";
    req.method = openai ? "GET" : "";
    req.target = url.base + "/models";
    req.headers = s.target.headers;
    std::string body;
    const auto r = http_call(
        url, tls_ ? &*tls_ : nullptr, req, never_cancelled(), [](const http_head&) { return true; },
        [&](std::string_view b) {
            body.append(b);
            return true;
        },
        limits);
    if (!r.connected) return r.error;
    if (!openai) {
        if (url.kind == "gradio")
            log::info("space {}: served by the Gradio endpoint {} (inputs {}; output {})", space, url.display(),
                      fmt::join(url.inputs, ","), url.field);
        else
            log::info("space {}: served by the HTTP endpoint {} ({})", space, url.display(), url.multipart ? "multipart" : "JSON");
        return {};
    }
    if (r.how != http_call_result::outcome::done || r.head.status >= 300) {
        log::warn("space {}: the OpenAI-compatible server at {} answers, but listing its models failed ({}); asking for "
                  "model '{}'",
                  space, url.display(), r.error.empty() ? fmt::format("status {}", r.head.status) : r.error,
                  s.model.empty() ? space : s.model);
        return {};
    }
    const auto ids = openai_model_ids(body);
    std::lock_guard lock(mutex_);
    if (s.model.empty() && !ids.empty()) s.model = ids.front();
    log::info("space {}: served by the OpenAI-compatible server at {}, which lists {} model(s) [{}]; asking for '{}'", space,
              url.display(), ids.size(), fmt::join(ids.begin(), ids.begin() + std::min<std::size_t>(ids.size(), 8), ", "),
              s.model.empty() ? space : s.model);
    if (!ids.empty() && std::find(ids.begin(), ids.end(), s.model.empty() ? space : s.model) == ids.end())
        log::warn("space {}: the upstream does not list model '{}'", space, s.model.empty() ? space : s.model);
    return {};
}

// The whole call ends before the broker's deadline for the request (a second
// before it, or a tenth of the time left when that is less), and within the
// URL's timeout when one is set.
http_call_limits upstream_backend::limits_for(const upstream_url& url, const job& j) const {
    http_call_limits l;
    l.connect_timeout = url.connect_timeout;
    l.max_body = url.max_body;
    const auto now = steady::now();
    if (url.timeout) l.deadline = now + *url.timeout;
    if (j.deadline) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*j.deadline - system_clock::now());
        const auto margin = std::min(std::chrono::milliseconds(1000), std::max(left, std::chrono::milliseconds(0)) / 10);
        const auto before = now + std::max(left - margin, std::chrono::milliseconds(0));
        if (!l.deadline || before < *l.deadline) l.deadline = before;
    }
    return l;
}

void upstream_backend::run(const job& j, cancellation_token& cancel, result_sink& sink) {
    const auto it = spaces_.find(j.space);
    if (it == spaces_.end()) return sink.failed("bad_input", "no upstream serves space " + j.space);
    const served& s = it->second;
    if (auto why = health_->unavailable(j.space); !why.empty())
        return sink.failed("upstream_unavailable", fmt::format("the upstream for {} is not reachable: {}", j.space, why));
    std::string model;
    {
        std::lock_guard lock(mutex_);
        model = s.model.empty() ? j.space : s.model;
    }
    auto* tls = tls_ ? &*tls_ : nullptr;
    const auto limits = limits_for(s.target.url, j);
    const std::string& kind = s.target.url.kind;
    // #audio=wav: the upstream is sent WAV whatever the user uploaded.
    std::optional<job> as_wav;
    if (s.target.url.audio_wav) {
        as_wav.emplace(j);
        if (auto error = inputs_as_wav(s.target.url, *as_wav)) return sink.failed("bad_input", std::move(*error));
    }
    const job& sent = as_wav ? *as_wav : j;
    const auto out = kind == "openai"   ? run_openai_job(s.target, tls, model, sent, cancel, sink, limits)
                     : kind == "gradio" ? run_gradio_job(s.target, tls, sent, cancel, sink, limits)
                                        : run_http_job(s.target, tls, sent, cancel, sink, limits);
    if (out.unreachable) health_->mark_down(j.space, out.error);
}

} // namespace tether::agent

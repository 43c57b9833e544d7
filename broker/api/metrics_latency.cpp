#include "api/metrics_latency.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace tether::broker::api {

namespace {

const std::vector<double>& request_bounds() {
    static const std::vector<double> b{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
    return b;
}

const std::vector<double>& commit_bounds() {
    static const std::vector<double> b{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
    return b;
}

double seconds(time_point from, time_point to) {
    if (to <= from) return 0;
    return std::chrono::duration<double>(to - from).count();
}

histogram& slot(std::map<std::string, histogram, std::less<>>& m, std::string_view space) {
    auto it = m.find(space);
    if (it == m.end()) it = m.emplace(std::string(space), histogram(request_bounds())).first;
    return it->second;
}

void render_family(std::string& out, std::string_view name, std::string_view help,
                   const std::map<std::string, histogram, std::less<>>& m) {
    out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
    for (const auto& [space, h] : m) h.render(out, name, fmt::format("space=\"{}\"", prometheus_label(space)));
}

} // namespace

std::string prometheus_label(std::string_view v) {
    std::string out;
    out.reserve(v.size());
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

histogram::histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {
    std::sort(bounds_.begin(), bounds_.end());
}

void histogram::observe(double s) {
    auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), s) - bounds_.begin());
    ++counts_[i];
    sum_ += s;
    ++count_;
}

void histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
    std::string sep = labels.empty() ? "" : ",";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        cumulative += counts_[i];
        out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, bounds_[i], cumulative);
    }
    out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, count_);
    auto braces = labels.empty() ? std::string() : fmt::format("{{{}}}", labels);
    out += fmt::format("{}_sum{} {}\n", name, braces, sum_);
    out += fmt::format("{}_count{} {}\n", name, braces, count_);
}

latency_metrics::latency_metrics() : commit_(commit_bounds()) {}

void latency_metrics::observe_request(const request_record& r) {
    std::lock_guard lock(mutex_);
    // attempts == 1: the first dispatch; a requeued request waits again, but
    // the wait users feel is the first one (the rest shows in end-to-end).
    if (r.state == request_state::dispatched && r.attempts == 1 && r.dispatched_at)
        slot(queue_wait_, r.space).observe(seconds(r.created, *r.dispatched_at));
    if (is_terminal(r.state) && r.finished_at) slot(end_to_end_, r.space).observe(seconds(r.created, *r.finished_at));
}

void latency_metrics::observe_commit(std::chrono::steady_clock::duration d) {
    std::lock_guard lock(mutex_);
    commit_.observe(std::max(0.0, std::chrono::duration<double>(d).count()));
}

void latency_metrics::count_rate_limited(std::string_view space, std::string_view by) {
    std::lock_guard lock(mutex_);
    ++rate_limited_[{std::string(space), std::string(by)}];
}

std::string latency_metrics::render() const {
    std::lock_guard lock(mutex_);
    std::string out;
    render_family(out, "tether_queue_wait_seconds", "Time from submission to first dispatch, per space.",
                  queue_wait_);
    render_family(out, "tether_request_duration_seconds",
                  "Time from submission to a terminal state (end-to-end latency), per space.", end_to_end_);
    out += "# HELP tether_store_commit_seconds Time from handing a snapshot to the store until it is durable.\n";
    out += "# TYPE tether_store_commit_seconds histogram\n";
    commit_.render(out, "tether_store_commit_seconds", "");
    out += "# HELP tether_rate_limited_total Submissions refused by a rate limit (429), by space and limit.\n";
    out += "# TYPE tether_rate_limited_total counter\n";
    for (const auto& [key, n] : rate_limited_)
        out += fmt::format("tether_rate_limited_total{{space=\"{}\",limit=\"{}\"}} {}\n", prometheus_label(key.first),
                           key.second, n);
    return out;
}

} // namespace tether::broker::api

#include "backends/upstream/upstream_health.hpp"

#include "tether/shared/log.hpp"

#include <fmt/format.h>

namespace tether::agent {

upstream_health::upstream_health(probe_fn probe, backoff b) : probe_(std::move(probe)), backoff_(b) {}

upstream_health::~upstream_health() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void upstream_health::start(const std::vector<std::string>& spaces) {
    {
        std::lock_guard lock(mutex_);
        for (const auto& s : spaces) entries_.emplace(s, entry{});
    }
    for (const auto& s : spaces) record(s, probe_(s));
    thread_ = std::thread([this] { loop(); });
}

std::string upstream_health::unavailable(const std::string& space) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(space);
    if (it == entries_.end() || it->second.up) return {};
    const auto down_s = std::chrono::duration_cast<std::chrono::seconds>(steady::now() - it->second.since).count();
    return fmt::format("{} (down for {} s; the agent retries it every {} s at most)", it->second.why, down_s,
                       backoff_.max.count() / 1000.0);
}

void upstream_health::mark_down(const std::string& space, const std::string& why) { record(space, why.empty() ? "unreachable" : why); }

void upstream_health::mark_up(const std::string& space) { record(space, {}); }

void upstream_health::record(const std::string& space, const std::string& why) {
    bool wake = false;
    {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(space);
        if (it == entries_.end()) return;
        entry& e = it->second;
        const auto now = steady::now();
        if (why.empty()) {
            if (!e.up) log::info("space {}: the upstream answers again (after {} tries)", space, e.tries);
            e = entry{};
            return;
        }
        if (e.up) {
            log::warn("space {}: the upstream is not reachable: {}; its requests fail at once until it answers", space, why);
            e.up = false;
            e.since = now;
            e.wait = backoff_.first;
            e.tries = 0;
            wake = true;
        } else {
            log::debug("space {}: the upstream is still not reachable: {}", space, why);
            e.wait = std::min(backoff_.max, e.wait * 2);
        }
        e.why = why;
        ++e.tries;
        e.next_try = now + e.wait;
    }
    if (wake) wake_.notify_all();
}

void upstream_health::loop() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
        // The next space due for a retry, if any is down.
        const std::string* due = nullptr;
        steady::time_point when = steady::time_point::max();
        for (const auto& [space, e] : entries_)
            if (!e.up && e.next_try < when) {
                when = e.next_try;
                due = &space;
            }
        if (due == nullptr) {
            wake_.wait(lock);
            continue;
        }
        if (steady::now() < when) {
            wake_.wait_until(lock, when);
            continue;
        }
        const std::string space = *due;
        lock.unlock();
        const std::string why = probe_(space);
        record(space, why);
        lock.lock();
    }
}

} // namespace tether::agent

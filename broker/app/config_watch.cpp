#include "app/config_watch.hpp"

#include "tether/shared/log.hpp"

#include <set>
#include <string>
#include <vector>

namespace tether::broker::app {

config_watch::config_watch(store& st, api::core_access& core, api::stream_registry& streams,
                           std::chrono::milliseconds interval)
    : store_(st), core_(core), streams_(streams), interval_(interval) {}

config_watch::~config_watch() {
    stop();
}

void config_watch::start() {
    {
        std::lock_guard lock(check_mu_);
        version_ = store_.config_version();
        (void)store_.removed_after(0, removed_seq_); // what was removed before this start is not in the core
    }
    thread_ = std::thread([this] { loop(); });
}

void config_watch::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
}

void config_watch::poke() {
    std::lock_guard lock(mu_);
    poked_ = true;
    cv_.notify_all();
}

void config_watch::sync_now() {
    std::lock_guard lock(check_mu_);
    check();
}

void config_watch::loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
        cv_.wait_for(lock, interval_, [&] { return stopping_ || poked_; });
        if (stopping_) return;
        poked_ = false;
        lock.unlock();
        {
            std::lock_guard check_lock(check_mu_);
            check();
        }
        lock.lock();
    }
}

void config_watch::check() {
    std::int64_t newest = removed_seq_;
    auto removed = store_.removed_after(removed_seq_, newest);
    removed_seq_ = newest;
    if (!removed.empty()) core_.post([ids = std::move(removed)](broker_core& c) { c.forget(ids); });

    const std::uint64_t version = store_.config_version();
    if (version == version_ && !failed_last_) return;

    store_.forget_credentials();
    std::vector<space_config> spaces;
    std::vector<user_record> users;
    if (store_.read_spaces(spaces) != store_status::ok || store_.read_users(users) != store_status::ok) {
        // Acting on a list we could not read would remove every space: wait.
        if (!failed_last_) log::warn("config watch: cannot read spaces or users; will try again");
        failed_last_ = true;
        return;
    }
    failed_last_ = false;
    version_ = version;
    // Streams first: a client whose credentials went must not hear anything
    // more, not even how its requests end.
    streams_.revalidate(store_);
    std::set<std::string, std::less<>> enabled;
    for (const auto& u : users)
        if (!u.disabled) enabled.insert(u.name);
    core_.post([spaces = std::move(spaces), enabled = std::move(enabled)](broker_core& c) {
        c.sync_spaces(spaces);
        for (const auto& name : c.users_with_live_requests()) {
            if (enabled.contains(name)) continue;
            const auto n = c.cancel_requests_of(name, "the account was removed or disabled");
            if (n > 0) log::info("cancelled {} request(s) of user {}: the account was removed or disabled", n, name);
        }
    });
}

} // namespace tether::broker::app

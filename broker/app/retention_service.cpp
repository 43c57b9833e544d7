#include "app/retention_service.hpp"

#include "tether/shared/log.hpp"

namespace tether::broker::app {

retention_service::retention_service(store& st, const blob_store& blobs, const clock_source& clock,
                                     retention_policy policy, std::chrono::milliseconds interval)
    : pass_(st, blobs, clock, policy), interval_(interval) {}

retention_service::~retention_service() {
    stop();
}

void retention_service::start() {
    thread_ = std::thread([this] { loop(); });
}

void retention_service::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
}

void retention_service::loop() {
    for (;;) {
        try {
            pass_.run(false, &stopping_, &stats_);
        } catch (const std::exception& e) {
            log::error("retention: pass failed: {}", e.what()); // the next one tries again
        }
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, interval_, [&] { return stopping_.load(); })) return;
    }
}

} // namespace tether::broker::app

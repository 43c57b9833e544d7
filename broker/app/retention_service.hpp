#pragma once
// Runs the retention pass (store/retention.hpp) on a thread of its own: once
// at start, then every `interval`, so it never sits on an io thread or the
// API workers. Stopping ends a pass between two batches.

#include "store/retention.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace tether::broker::app {

class retention_service {
  public:
    retention_service(store& st, const blob_store& blobs, const clock_source& clock, retention_policy policy,
                      std::chrono::milliseconds interval);
    ~retention_service();
    retention_service(const retention_service&) = delete;
    retention_service& operator=(const retention_service&) = delete;

    void start();
    void stop();
    const retention_stats& stats() const { return stats_; }

  private:
    void loop();

    retention pass_;
    const std::chrono::milliseconds interval_;
    retention_stats stats_;
    std::atomic<bool> stopping_{false};
    std::mutex mu_;
    std::condition_variable cv_;
    std::thread thread_;
};

} // namespace tether::broker::app

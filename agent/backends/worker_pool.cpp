#include "backends/worker_pool.hpp"

#include "tether/shared/log.hpp"

#include <exception>

namespace tether::agent {

worker_pool::worker_pool(std::size_t threads) {
    if (threads == 0) threads = 1;
    threads_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i)
        threads_.emplace_back([this] { loop(); });
}

worker_pool::~worker_pool() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
        t.join();
}

void worker_pool::submit(std::function<void()> task) {
    {
        std::lock_guard lock(mutex_);
        tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
}

void worker_pool::loop() {
    for (;;) {
        std::function<void()> task;
        {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
            if (tasks_.empty()) return; // stopping and nothing left
            task = std::move(tasks_.front());
            tasks_.pop_front();
        }
        // A backend bug must not take the whole agent down with it.
        try {
            task();
        } catch (const std::exception& e) {
            log::error("worker: task threw: {}", e.what());
        } catch (...) {
            log::error("worker: task threw an unknown exception");
        }
    }
}

} // namespace tether::agent

#pragma once
// A fixed set of threads that run backend jobs, so inference never blocks the
// network thread. Tasks run in submission order as threads free up. It knows
// nothing of backends or sockets: it runs closures.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tether::agent {

class worker_pool {
  public:
    explicit worker_pool(std::size_t threads);
    // Finishes queued tasks, then joins the threads.
    ~worker_pool();
    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;

    void submit(std::function<void()> task);
    std::size_t size() const { return threads_.size(); }

  private:
    void loop();

    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

} // namespace tether::agent

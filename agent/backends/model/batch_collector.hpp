#pragma once
// Dynamic batching on the worker threads themselves: the first submitter of a
// key leads, waits briefly for others of the same key, runs them as one batch
// and hands each submitter its own output. No thread of its own; it knows
// nothing of tensors (the caller's key says which items can share a batch).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tether::agent {

template <typename In, typename Out> class batch_collector {
  public:
    // Gets items that share a key (never more than max_batch) and returns
    // exactly one Out per item, in order. If it throws, or returns the wrong
    // count, every submitter of that batch gets the exception.
    using run_fn = std::function<std::vector<Out>(std::vector<In>&)>;

    // max_batch 0 is taken as 1; max_wait is clamped to [0, 1 h] so the
    // deadline cannot overflow. The collector must outlive every submit() call.
    batch_collector(std::size_t max_batch, std::chrono::microseconds max_wait, run_fn run)
        : max_batch_(std::max<std::size_t>(max_batch, 1)),
          max_wait_(std::clamp<std::chrono::microseconds>(max_wait, std::chrono::microseconds::zero(),
                                                          std::chrono::hours(1))),
          run_(std::move(run)) {}

    batch_collector(const batch_collector&) = delete;
    batch_collector& operator=(const batch_collector&) = delete;

    // Blocks the calling worker thread until its item's output is ready. The
    // first pending submitter of a key leads: it waits until max_batch items
    // of that key are pending or max_wait has passed since it arrived, then
    // runs up to max_batch of them (outside the lock). The next pending item
    // of the key leads the next batch, so batches of one key can overlap and
    // items of other keys batch concurrently. Rethrows run_fn's exception, or
    // std::runtime_error for a wrong output count.
    Out submit(const std::string& key, In item) {
        slot me(std::move(item));
        std::unique_lock lock(mutex_);
        key_state& ks = keys_[key]; // references into an unordered_map survive rehashing
        ks.pending.push_back(&me);
        if (ks.leader && ks.pending.size() >= max_batch_) ks.leader->cv.notify_one();

        while (!me.done) {
            // Only the oldest pending item leads, so a leader is always in its own batch.
            if (!me.taken && !ks.leader && ks.pending.front() == &me) {
                ks.leader = &me;
                me.cv.wait_until(lock, me.arrived + max_wait_, [&] { return ks.pending.size() >= max_batch_; });
                std::vector<slot*> batch = take_batch(ks, key);
                lock.unlock();
                run_batch(batch);
                lock.lock();
                continue;
            }
            me.cv.wait(lock);
        }
        if (me.error) std::rethrow_exception(me.error);
        return std::move(*me.out);
    }

    std::uint64_t batches_run() const { return batches_run_.load(); }
    std::uint64_t items_run() const { return items_run_.load(); }

  private:
    using clock = std::chrono::steady_clock;

    // One submitter's item; lives on its stack, which stays blocked in
    // submit() until `done`, so the leader may point at it.
    struct slot {
        explicit slot(In i) : item(std::move(i)), arrived(clock::now()) {}
        In item;
        clock::time_point arrived;
        std::optional<Out> out;
        std::exception_ptr error;
        bool taken = false; // in a leader's batch: no longer touches its key_state
        bool done = false;
        std::condition_variable cv;
    };

    struct key_state {
        std::deque<slot*> pending;
        slot* leader = nullptr;
    };

    // Under the lock: the leader takes the oldest items and hands leadership on.
    std::vector<slot*> take_batch(key_state& ks, const std::string& key) {
        const std::size_t n = std::min(max_batch_, ks.pending.size());
        std::vector<slot*> batch(ks.pending.begin(), ks.pending.begin() + static_cast<std::ptrdiff_t>(n));
        ks.pending.erase(ks.pending.begin(), ks.pending.begin() + static_cast<std::ptrdiff_t>(n));
        for (slot* s : batch)
            s->taken = true;
        ks.leader = nullptr;
        if (!ks.pending.empty())
            ks.pending.front()->cv.notify_one();
        else
            keys_.erase(key); // no submitter of this key refers to it any more
        return batch;
    }

    // Outside the lock: runs the batch, then hands out outputs under the lock.
    void run_batch(const std::vector<slot*>& batch) {
        std::vector<In> items;
        items.reserve(batch.size());
        for (slot* s : batch)
            items.push_back(std::move(s->item));
        std::vector<Out> outs;
        std::exception_ptr error;
        try {
            outs = run_(items);
            if (outs.size() != batch.size())
                throw std::runtime_error("a batch of " + std::to_string(batch.size()) + " items returned " +
                                         std::to_string(outs.size()) + " outputs");
        } catch (...) {
            error = std::current_exception();
        }
        batches_run_.fetch_add(1);
        items_run_.fetch_add(batch.size());
        std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (error)
                batch[i]->error = error;
            else
                batch[i]->out.emplace(std::move(outs[i]));
            batch[i]->done = true;
            // Notified under the lock: once it sees `done` the submitter
            // returns and its slot (this condition variable) is gone.
            batch[i]->cv.notify_one();
        }
    }

    const std::size_t max_batch_;
    const std::chrono::microseconds max_wait_;
    const run_fn run_;
    std::mutex mutex_;
    std::unordered_map<std::string, key_state> keys_;
    std::atomic<std::uint64_t> batches_run_{0};
    std::atomic<std::uint64_t> items_run_{0};
};

} // namespace tether::agent

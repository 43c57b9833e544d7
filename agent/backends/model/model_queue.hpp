#pragma once
// Batching for a model that runs one call at a time (two at once would only
// fight for the cores): worker threads hand in their items and block; the
// thread that finds the model free takes what is waiting (whole submissions,
// up to max_items, after a short wait for company when there is room) into
// one call, and every submitter gets its own outputs back. Items that arrive
// while a call runs go into the next one. No thread of its own, no tensors.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tether::agent {

template <typename In, typename Out> class model_queue {
  public:
    // Gets the items of one call (from one or more submissions, in order)
    // and returns one Out per item. An exception (or a wrong count) reaches
    // every submitter of that call.
    using run_fn = std::function<std::vector<Out>(std::vector<In>&)>;

    model_queue(std::size_t max_items, std::chrono::microseconds wait, run_fn run)
        : max_items_(std::max<std::size_t>(max_items, 1)),
          wait_(std::clamp<std::chrono::microseconds>(wait, std::chrono::microseconds::zero(), std::chrono::seconds(10))),
          run_(std::move(run)) {}

    model_queue(const model_queue&) = delete;
    model_queue& operator=(const model_queue&) = delete;

    // Blocks until `items` have been through the model; their outputs in
    // order. A submission larger than max_items runs as one call of its own.
    std::vector<Out> submit(std::vector<In> items) {
        if (items.empty()) return {};
        pending me{std::move(items), {}, nullptr, false};
        std::unique_lock lock(mutex_);
        queue_.push_back(&me);
        queued_items_ += me.items.size();
        cv_.notify_all();
        while (!me.done) {
            if (running_) {
                cv_.wait(lock);
                continue;
            }
            running_ = true;
            if (max_items_ > 1 && queued_items_ < max_items_ && wait_.count() > 0)
                cv_.wait_for(lock, wait_, [&] { return queued_items_ >= max_items_; });
            std::vector<pending*> call;
            std::size_t n = 0;
            while (!queue_.empty() && (call.empty() || n + queue_.front()->items.size() <= max_items_)) {
                call.push_back(queue_.front());
                n += queue_.front()->items.size();
                queued_items_ -= queue_.front()->items.size();
                queue_.pop_front();
            }
            lock.unlock();
            run_call(call, n);
            lock.lock();
            for (auto* p : call) p->done = true;
            running_ = false;
            cv_.notify_all();
        }
        if (me.error) std::rethrow_exception(me.error);
        return std::move(me.outs);
    }

    Out submit_one(In item) {
        std::vector<In> one;
        one.push_back(std::move(item));
        return std::move(submit(std::move(one)).front());
    }

    std::uint64_t calls_run() const { return calls_.load(); }
    std::uint64_t items_run() const { return items_.load(); }

  private:
    // One submission, on its submitter's stack until done.
    struct pending {
        std::vector<In> items;
        std::vector<Out> outs;
        std::exception_ptr error;
        bool done = false;
    };

    // Outside the lock.
    void run_call(const std::vector<pending*>& call, std::size_t n) {
        std::vector<In> items;
        items.reserve(n);
        for (auto* p : call)
            for (auto& i : p->items) items.push_back(std::move(i));
        std::exception_ptr error;
        std::vector<Out> outs;
        try {
            outs = run_(items);
            if (outs.size() != n)
                throw std::runtime_error("a call of " + std::to_string(n) + " items returned " + std::to_string(outs.size()) +
                                         " outputs");
        } catch (...) {
            error = std::current_exception();
        }
        calls_.fetch_add(1);
        items_.fetch_add(n);
        std::size_t at = 0;
        for (auto* p : call) {
            const std::size_t k = p->items.size();
            if (error) {
                p->error = error;
            } else {
                p->outs.assign(std::make_move_iterator(outs.begin() + static_cast<std::ptrdiff_t>(at)),
                               std::make_move_iterator(outs.begin() + static_cast<std::ptrdiff_t>(at + k)));
            }
            at += k;
        }
    }

    const std::size_t max_items_;
    const std::chrono::microseconds wait_;
    const run_fn run_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<pending*> queue_;
    std::size_t queued_items_ = 0;
    bool running_ = false;
    std::atomic<std::uint64_t> calls_{0}, items_{0};
};

} // namespace tether::agent

// Dynamic batching with real threads: who shares a batch, how big batches get,
// and how a failing batch reaches its submitters. No timed assertions: the
// long waits below are never reached because the batches fill.

#include "backends/model/batch_collector.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace tether::agent;
using namespace std::chrono_literals;

namespace {

// Records every batch it runs and answers item * 10.
struct recorder {
    std::mutex mutex;
    std::vector<std::vector<int>> batches;

    batch_collector<int, int>::run_fn fn() {
        return [this](std::vector<int>& items) {
            {
                std::lock_guard lock(mutex);
                batches.push_back(items);
            }
            std::vector<int> out;
            for (const int i : items)
                out.push_back(i * 10);
            return out;
        };
    }

    std::vector<std::size_t> sizes() {
        std::lock_guard lock(mutex);
        std::vector<std::size_t> s;
        for (const auto& b : batches)
            s.push_back(b.size());
        std::sort(s.begin(), s.end());
        return s;
    }
};

// Starts `n` threads that pass a latch together, then each submits one item.
template <typename F> void run_threads(int n, F submit_one) {
    std::latch start(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i)
        threads.emplace_back([&, i] {
            start.arrive_and_wait();
            submit_one(i);
        });
    for (auto& t : threads)
        t.join();
}

} // namespace

TEST_CASE("eight submitters with max_batch 4 form exactly two full batches and each gets its own output", "[batch]") {
    recorder rec;
    batch_collector<int, int> collector(4, 10s, rec.fn());
    std::vector<int> got(8, -1);
    run_threads(8, [&](int i) { got[static_cast<std::size_t>(i)] = collector.submit("shape", i); });

    CHECK(got == std::vector<int>{0, 10, 20, 30, 40, 50, 60, 70});
    CHECK(rec.sizes() == std::vector<std::size_t>{4, 4});
    CHECK(collector.batches_run() == 2);
    CHECK(collector.items_run() == 8);
}

TEST_CASE("items with different keys never share a batch", "[batch]") {
    std::mutex mutex;
    std::vector<std::vector<std::string>> batches;
    batch_collector<std::string, std::string> collector(4, 10s, [&](std::vector<std::string>& items) {
        {
            std::lock_guard lock(mutex);
            batches.push_back(items);
        }
        std::vector<std::string> out;
        for (const auto& s : items)
            out.push_back(s + "!");
        return out;
    });
    std::vector<std::string> got(8);
    // Items 0..3 have key "a", 4..7 key "b"; each key fills its own batch of 4.
    run_threads(8, [&](int i) {
        const std::string key = i < 4 ? "a" : "b";
        got[static_cast<std::size_t>(i)] = collector.submit(key, key + std::to_string(i));
    });

    REQUIRE(batches.size() == 2);
    for (const auto& b : batches) {
        CHECK(b.size() == 4);
        CHECK(std::all_of(b.begin(), b.end(), [&](const std::string& s) { return s[0] == b[0][0]; }));
    }
    for (int i = 0; i < 8; ++i)
        CHECK(got[static_cast<std::size_t>(i)] == (i < 4 ? "a" : "b") + std::to_string(i) + "!");
}

TEST_CASE("max_batch 1 runs every item alone and at once", "[batch]") {
    recorder rec;
    batch_collector<int, int> collector(1, 10s, rec.fn());
    std::vector<int> got(6, -1);
    run_threads(6, [&](int i) { got[static_cast<std::size_t>(i)] = collector.submit("k", i); });

    CHECK(got == std::vector<int>{0, 10, 20, 30, 40, 50});
    CHECK(rec.sizes() == std::vector<std::size_t>(6, 1));
    CHECK(collector.batches_run() == 6);
}

TEST_CASE("a throwing batch reaches every submitter of it and the collector keeps working", "[batch]") {
    int calls = 0;
    batch_collector<int, int> collector(4, 10s, [&](std::vector<int>& items) {
        if (++calls == 1) throw std::runtime_error("forward failed");
        std::vector<int> out;
        for (const int i : items)
            out.push_back(-i);
        return out;
    });

    std::vector<std::string> errors(4);
    run_threads(4, [&](int i) {
        try {
            collector.submit("k", i);
        } catch (const std::runtime_error& e) {
            errors[static_cast<std::size_t>(i)] = e.what();
        }
    });
    CHECK(errors == std::vector<std::string>(4, "forward failed"));

    std::vector<int> got(4, 0);
    run_threads(4, [&](int i) { got[static_cast<std::size_t>(i)] = collector.submit("k", i + 1); });
    CHECK(got == std::vector<int>{-1, -2, -3, -4});
    CHECK(collector.batches_run() == 2);
}

TEST_CASE("a batch that returns the wrong number of outputs fails every submitter of it", "[batch]") {
    batch_collector<int, int> collector(3, 10s, [](std::vector<int>&) { return std::vector<int>{1}; });
    std::vector<std::string> errors(3);
    run_threads(3, [&](int i) {
        try {
            collector.submit("k", i);
        } catch (const std::runtime_error& e) {
            errors[static_cast<std::size_t>(i)] = e.what();
        }
    });
    for (const auto& e : errors)
        CHECK(e == "a batch of 3 items returned 1 outputs");
}

TEST_CASE("a lone item runs once max_wait has passed", "[batch]") {
    recorder rec;
    batch_collector<int, int> collector(8, 1ms, rec.fn());
    CHECK(collector.submit("k", 7) == 70);
    CHECK(collector.submit("k", 8) == 80);
    CHECK(rec.sizes() == std::vector<std::size_t>{1, 1});
}

TEST_CASE("an item left out of a full batch leads the next batch", "[batch]") {
    recorder rec;
    batch_collector<int, int> collector(4, 100ms, rec.fn());
    std::vector<int> got(5, -1);
    run_threads(5, [&](int i) { got[static_cast<std::size_t>(i)] = collector.submit("k", i); });

    CHECK(got == std::vector<int>{0, 10, 20, 30, 40});
    const auto sizes = rec.sizes();
    CHECK(sizes.size() >= 2);
    CHECK(sizes.back() <= 4);
}

TEST_CASE("under many threads and keys every submitter gets its own output from a batch of one key within max_batch",
          "[batch]") {
    // Many threads, a few keys, a short wait: batch sizes depend on timing, so
    // only what must always hold is checked.
    std::mutex mutex;
    std::vector<std::vector<int>> batches;
    batch_collector<int, int> collector(3, 200us, [&](std::vector<int>& items) {
        {
            std::lock_guard lock(mutex);
            batches.push_back(items);
        }
        std::vector<int> out;
        for (const int i : items)
            out.push_back(i + 1);
        return out;
    });
    constexpr int threads = 12;
    constexpr int per_thread = 40;
    std::vector<int> wrong(threads, 0);
    run_threads(threads, [&](int t) {
        for (int k = 0; k < per_thread; ++k) {
            const int item = t * 1000 + k;
            if (collector.submit(std::to_string(item % 3), item) != item + 1) ++wrong[static_cast<std::size_t>(t)];
        }
    });
    CHECK(wrong == std::vector<int>(threads, 0));
    CHECK(collector.items_run() == threads * per_thread);
    for (const auto& b : batches) {
        CHECK(b.size() <= 3);
        CHECK(std::all_of(b.begin(), b.end(), [&](int i) { return i % 3 == b[0] % 3; }));
    }
}

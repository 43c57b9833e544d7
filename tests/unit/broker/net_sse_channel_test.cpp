// sse_channel across threads: the core's thread pushes and finishes while the
// session's thread attaches; the writer must see the posts in stream order.
#include "net/sse_channel.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using tether::broker::net::sse_channel;
using tether::broker::net::sse_writer;

namespace {
// Records what reaches the session's executor, in the order it is posted.
struct recording_writer final : sse_writer {
    std::mutex mu;
    std::vector<std::string> calls;
    std::function<void()> before_first_post; // runs once, inside the first post_bytes
    void post_bytes(std::string b) override {
        if (before_first_post) {
            auto f = std::move(before_first_post);
            before_first_post = nullptr;
            f();
        }
        std::lock_guard lock(mu);
        calls.push_back(std::move(b));
    }
    void post_close() override {
        std::lock_guard lock(mu);
        calls.emplace_back("<close>");
    }
};
} // namespace

TEST_CASE("a finish from the core's thread while the session attaches never overtakes the queued events",
          "[net][sse]") {
    // The race behind streams that ended after `queued`: attach() posted the
    // events queued before it while finish() on another thread posted the
    // close; the session ran the close first and dropped the events.
    for (int round = 0; round < 3; ++round) {
        sse_channel ch;
        ch.push("queued ");
        ch.push("completed ");
        auto w = std::make_shared<recording_writer>();
        std::thread core;
        w->before_first_post = [&] {
            core = std::thread([&] { ch.finish(); });
            std::this_thread::sleep_for(std::chrono::milliseconds(20)); // give it every chance to overtake
        };
        ch.attach(w);
        core.join();
        std::lock_guard lock(w->mu);
        CHECK(w->calls == std::vector<std::string>{"queued ", "completed ", "<close>"});
    }
}

TEST_CASE("events pushed from another thread while the session attaches come after the queued ones", "[net][sse]") {
    sse_channel ch;
    ch.push("1 ");
    ch.push("2 ");
    auto w = std::make_shared<recording_writer>();
    std::thread core;
    w->before_first_post = [&] {
        core = std::thread([&] {
            ch.push("3 ");
            ch.finish();
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    };
    ch.attach(w);
    core.join();
    std::lock_guard lock(w->mu);
    CHECK(w->calls == std::vector<std::string>{"1 ", "2 ", "3 ", "<close>"});
}

#pragma once
// Bounded polling for integration tests: check a condition until it holds or a
// deadline passes. Never a bare sleep-and-hope; every wait here has a limit.

#include <chrono>
#include <thread>

namespace tether::testkit {

using namespace std::chrono_literals;

// Calls `pred` until it returns true or `timeout` has passed; returns its last answer.
template <typename Pred>
bool eventually(Pred&& pred, std::chrono::milliseconds timeout = 5s, std::chrono::milliseconds poll = 20ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (pred()) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(poll);
    }
}

} // namespace tether::testkit

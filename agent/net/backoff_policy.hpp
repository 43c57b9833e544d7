#pragma once
// When to try the broker again after a connection is lost: exponential
// backoff with full jitter (a uniform draw in [0, ceiling]), the ceiling
// starting at 0.5 s and doubling to a 30 s cap, reset once a connection has
// lasted a minute. Pure arithmetic: no timers, no clock; the random source is
// injected so the policy is unit-tested exactly.

#include <chrono>
#include <functional>

namespace tether::agent {

struct backoff_settings {
    std::chrono::milliseconds initial{500};
    std::chrono::milliseconds cap{30'000};
    std::chrono::milliseconds stable_after{60'000}; // a connection this long resets the backoff
};

class backoff_policy {
  public:
    // Returns a number uniformly distributed in [0, 1].
    using random_source = std::function<double()>;

    explicit backoff_policy(backoff_settings s = {}, random_source random = {});

    // The wait before the next attempt; each call doubles the next ceiling.
    std::chrono::milliseconds next_delay();
    // The ceiling the next call draws below.
    std::chrono::milliseconds current_ceiling() const { return ceiling_; }
    // A connection that was up for `uptime` ended; a long one resets the backoff.
    void connection_ended(std::chrono::milliseconds uptime);
    void reset() { ceiling_ = settings_.initial; }

  private:
    backoff_settings settings_;
    random_source random_;
    std::chrono::milliseconds ceiling_;
};

} // namespace tether::agent

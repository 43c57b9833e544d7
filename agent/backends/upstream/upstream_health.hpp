#pragma once
// Whether each upstream answers. Checked once at start (logged); an upstream
// that is down is retried on a thread of its own with backoff (0.5 s doubling
// to 10 s) until it answers, and while it is down its space's requests fail
// at once with upstream_unavailable instead of waiting for a connect timeout.
// A call that cannot connect marks its upstream down.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace tether::agent {

class upstream_health {
  public:
    // "" when the space's upstream answers, else why not. Runs on the
    // constructor's thread (start) and then on the health thread.
    using probe_fn = std::function<std::string(const std::string& space)>;
    struct backoff {
        std::chrono::milliseconds first{500};
        std::chrono::milliseconds max{10'000};
    };

    explicit upstream_health(probe_fn probe, backoff b);
    explicit upstream_health(probe_fn probe) : upstream_health(std::move(probe), backoff{}) {}
    ~upstream_health();
    upstream_health(const upstream_health&) = delete;
    upstream_health& operator=(const upstream_health&) = delete;

    // Probes every space once now (serially), then starts retrying those down.
    void start(const std::vector<std::string>& spaces);
    // "" when the space may be called, else what is wrong and since when.
    std::string unavailable(const std::string& space) const;
    void mark_down(const std::string& space, const std::string& why);
    void mark_up(const std::string& space);

  private:
    using steady = std::chrono::steady_clock;
    struct entry {
        bool up = true;
        std::string why;
        steady::time_point since{};
        steady::time_point next_try{};
        std::chrono::milliseconds wait{0};
        unsigned tries = 0;
    };
    void loop();
    void record(const std::string& space, const std::string& why); // under no lock

    probe_fn probe_;
    backoff backoff_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::map<std::string, entry> entries_;
    bool stop_ = false;
    std::thread thread_;
};

} // namespace tether::agent

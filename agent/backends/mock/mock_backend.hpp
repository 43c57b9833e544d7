#pragma once
// `--backend mock`: answers without a model, for tests and for trying the
// system. Waits a delay drawn from a range while streaming the reply word by
// word, echoes the prompt and each input file's size and SHA-256, and can
// fail on purpose. It must stay deterministic where tests rely on it:
// "#fail" in the prompt always fails, "#file" always returns echo.txt.

#include "backends/backend.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>

namespace tether::agent {

struct mock_options {
    std::chrono::milliseconds delay_min{1000};
    std::chrono::milliseconds delay_max{5000};
    double fail_rate = 0.0; // 0..1: chance of an injected model_error
    std::uint64_t seed = 0; // 0: seeded from the OS
};

class mock_backend final : public backend {
  public:
    explicit mock_backend(mock_options opts);

    std::string name() const override { return "mock"; }
    std::vector<std::string> models(const std::string& space) const override;
    void run(const job& j, cancellation_token& cancel, result_sink& sink) override;

    // The delay the next job will wait (exposed so its range is testable).
    std::chrono::milliseconds draw_delay();

  private:
    bool draw_failure();

    mock_options opts_;
    std::mutex rng_mutex_;
    std::mt19937_64 rng_;
};

} // namespace tether::agent

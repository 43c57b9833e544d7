#pragma once
// Picks the next token from one position's logits: greedy, or softmax with a
// temperature over the top_k best. Deterministic for a given seed. It knows
// nothing of tensors or models: it reads a span of floats.

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace tether::agent {

struct sampling_params {
    double temperature = 0.8; // 0 (or below) = greedy: argmax, lowest index on ties
    std::uint32_t top_k = 40; // 0 = the whole vocabulary
};

class token_sampler {
  public:
    // Same seed and same logits give the same tokens (std::mt19937_64).
    explicit token_sampler(std::uint64_t seed);

    // Returns the chosen index into `logits`. Non-finite logits count as -inf
    // (never chosen); when every logit is -inf it falls back to index 0.
    std::size_t sample(std::span<const float> logits, const sampling_params& p);

  private:
    struct candidate {
        double logit;
        std::size_t index;
    };

    double uniform01(); // [0, 1), the same on every standard library

    std::mt19937_64 rng_;
    std::vector<candidate> scratch_; // reused so a generation step does not allocate
    std::vector<double> weights_;
};

} // namespace tether::agent

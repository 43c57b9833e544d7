#pragma once
// The next token of a language model from one position's logits, with the
// OpenAI/vLLM sampling surface: repetition, presence and frequency penalties,
// temperature (0: greedy, exactly the argmax), top_k, top_p, min_p, a seed
// that repeats, and log-probabilities of the chosen token and the best
// alternatives. Torch-free: it reads a span of floats, O(vocabulary) a step.

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace tether::agent {

struct lm_sampling {
    double temperature = 1.0;       // 0: greedy (the argmax, lowest id on ties)
    std::uint32_t top_k = 0;        // 0: no limit
    double top_p = 1.0;             // (0, 1]
    double min_p = 0.0;             // [0, 1]: drop tokens below min_p × the best one's probability
    double presence_penalty = 0.0;  // [-2, 2], on tokens generated so far
    double frequency_penalty = 0.0; // [-2, 2], times each one's count so far
    double repetition_penalty = 1.0; // (0, 10], on tokens of the prompt and the output
    std::uint32_t top_logprobs = 0; // alternatives reported with each token (0–20)
};

struct token_logprob {
    std::uint32_t token = 0;
    float logprob = 0; // under the model's distribution (the raw logits' softmax)
};

struct sampled_token {
    std::uint32_t token = 0;
    float logprob = 0;
    std::vector<token_logprob> top; // best first, `top_logprobs` of them
};

class lm_sampler {
  public:
    // `prompt`: what the repetition penalty also covers.
    lm_sampler(const lm_sampling& params, std::uint64_t seed, std::span<const std::int64_t> prompt);

    // Picks the next token from `logits` (one per vocabulary id; changed in
    // place by the penalties) and counts it for the penalties.
    sampled_token next(std::span<float> logits);

  private:
    double uniform01();

    lm_sampling p_;
    std::mt19937_64 rng_;
    std::unordered_map<std::uint32_t, std::uint32_t> counts_; // output tokens
    std::unordered_set<std::uint32_t> seen_;                  // prompt and output tokens
    std::vector<std::pair<float, std::uint32_t>> scratch_;
    std::vector<float> raw_; // the logits before the penalties, for log-probabilities
};

} // namespace tether::agent

#pragma once
// The upper bound tether-torch-bench compares the agent with: the model's
// TorchScript module loaded as a user would (torch::jit::load, eval) and its
// forward called in a loop under InferenceMode, on the very input the agent's
// preprocessing makes. No sidecar checks, no JSON, no sampling, no PNG/WAV.

#include "bench_options.hpp"
#include "sample_stats.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tether::bench {

// Sets torch's intra-op threads (when > 0) and says how many it now uses.
int use_torch_threads(std::uint32_t threads);

// `direct`: p50 per forward call on the request's input; for a
// text-generation model, per request of max_tokens greedy steps.
int run_direct(const torch_bench_options& o);

// `batch`: forward on the request's input stacked to each batch size; items/s.
int run_batch(const torch_bench_options& o);

// Times forward over the windows a generation saw: `text` is the prompt and
// the generated tokens; step i feeds the last `context` tokens before
// text[prompt_len + i]. Each timed call is one whole replay.
sample_summary raw_replay(const torch_bench_options& o, const std::vector<std::int64_t>& text, std::size_t prompt_len,
                          std::uint32_t context);

} // namespace tether::bench

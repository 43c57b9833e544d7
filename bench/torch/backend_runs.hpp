#pragma once
// tether-torch-bench's runs through the agent's torch backend in this
// process: torch_backend::run on the same request as the raw loop
// (preprocessing, JSON, sampling, PNG/WAV encoding included), generation
// tokens/s, and dynamic batching with several submitting threads. No broker.

#include "bench_options.hpp"

namespace tether::bench {

// `backend`: p50 per torch_backend::run at capacity 1.
int run_backend(const torch_bench_options& o);

// `generate`: tokens/s of a text-generation model through the backend
// (max_tokens, fixed seed) and of the raw forward loop over the same windows.
int run_generate(const torch_bench_options& o);

// `dynamic`: items/s with `submitters` threads calling run() on a backend
// whose space has `capacity` (batching when > 1), and its batch counters.
int run_dynamic(const torch_bench_options& o);

} // namespace tether::bench

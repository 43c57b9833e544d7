#pragma once
// The one request a tether-torch-bench run repeats, made from the model's
// sidecar: the job torch_backend::run gets, and the input tensor the backend's
// preprocessing makes of it (as plain numbers), so the raw forward loop runs
// on exactly the same input. No torch here.

#include "bench_options.hpp"

#include "backends/backend.hpp"
#include "backends/model/model_spec.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tether::bench {

struct bench_request {
    agent::model_spec spec;
    agent::job request;
    // The backend's input for one item: int64 `tokens` (text) or float
    // `values` (image, audio), shaped `dims` with the batch dimension (1) first.
    // For text generation: the prompt, the first window.
    std::vector<std::int64_t> dims;
    std::vector<std::int64_t> tokens;
    std::vector<float> values;
    std::string what; // "prompt of 34 bytes", "PNG 128x128 (41234 bytes)"
};

// The space name the bench serves its model under.
inline constexpr const char* bench_space = "bench";

// Reads the sidecar beside o.model. Throws std::runtime_error for a sidecar
// that does not parse, a task this bench does not drive (tensor), or an
// input the model's own preprocessing refuses.
bench_request make_bench_request(const torch_bench_options& o);

} // namespace tether::bench

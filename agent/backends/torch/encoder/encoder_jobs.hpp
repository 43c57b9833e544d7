#pragma once
// Runs one job on an encoder space: text classification (ranked labels),
// embeddings (one for a prompt; a list for params.input, as base64 rows the
// broker turns into OpenAI's shapes) and image classification (the upload
// decoded, resized as PIL does, rescaled and normalised as the folder's
// preprocessor_config.json says).

#include "backends/backend.hpp"
#include "backends/torch/encoder/encoder_engine.hpp"

#include <string>

namespace tether::agent::encoder {

struct job_limits {
    std::size_t max_inputs = 2048;
    std::uint64_t max_image_bytes = 64ULL << 20;
    std::uint64_t max_image_pixels = 16ULL << 20;
};

// Ends with exactly one of sink.completed / sink.failed. `model_name` names
// the model in errors.
void run_encoder_job(encoder_engine& engine, const std::string& model_name, const job& j, const job_limits& limits,
                     result_sink& sink);

} // namespace tether::agent::encoder

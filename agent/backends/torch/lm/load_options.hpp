#pragma once
// Where and in what a model folder is computed: every native architecture
// (language models, Whisper, the encoders, BART) loads with these.

#include <ATen/ATen.h>

#include <optional>

namespace tether::agent::lm {

struct lm_load_options {
    at::Device device = at::kCPU;
    // The compute dtype on CUDA (nullopt: the stored one); the CPU always uses float32.
    std::optional<at::ScalarType> dtype;
};

} // namespace tether::agent::lm

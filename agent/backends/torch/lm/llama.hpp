#pragma once
// Llama, Mistral and Qwen2 (transformers' modeling_llama.py and its copies):
// RMSNorm, rotary embeddings, grouped-query attention with optional q/k/v/o
// biases and a sliding window, a SiLU-gated MLP, tied or separate lm_head.
// Tensors are named as the checkpoints name them.

#include "backends/torch/lm/causal_lm.hpp"
#include "backends/torch/lm/lm_weights.hpp"

namespace tether::agent::lm {

std::unique_ptr<causal_lm> make_llama(hf::lm_config config, lm_weights& weights);

} // namespace tether::agent::lm

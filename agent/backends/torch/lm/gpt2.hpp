#pragma once
// GPT-2 (transformers' modeling_gpt2.py): learned positions, LayerNorm,
// fused c_attn in Conv1D layout ([in, out]), gelu_new, the head tied to wte;
// with or without the `transformer.` prefix.

#include "backends/torch/lm/causal_lm.hpp"
#include "backends/torch/lm/lm_weights.hpp"

namespace tether::agent::lm {

std::unique_ptr<causal_lm> make_gpt2(hf::lm_config config, lm_weights& weights);

} // namespace tether::agent::lm

#pragma once
// What the architectures share: rotary position embeddings (standard, linear
// and llama3 scaling, as Hugging Face computes them), RMS and layer norms in
// float32, and attention over the KV cache for a step's rows (causal, GQA,
// an optional sliding window), softmax in float32.

#include "backends/hf/lm_config.hpp"
#include "backends/torch/lm/causal_lm.hpp"

#include <ATen/ATen.h>

#include <optional>

namespace tether::agent::lm {

class rotary {
  public:
    rotary(const hf::lm_config& config, std::int64_t positions, at::Device device, at::ScalarType dtype);
    // x [tokens, heads, head_dim] rotated for `positions` [tokens] (int64, on the device).
    at::Tensor apply(const at::Tensor& x, const at::Tensor& positions) const;

  private:
    at::Tensor cos_, sin_; // [positions, head_dim]
};

// The inverse frequencies (float64) rotary uses, exposed for tests.
at::Tensor rope_inverse_frequencies(const hf::lm_config& config, std::int64_t head_dim);

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);
// x [n, in] · weightᵀ [in, out] (+ bias). One row on the CPU goes through a
// matrix-vector product: BLAS's matrix-matrix path would first copy (pack)
// the whole weight, which for a decode step doubles the memory traffic.
at::Tensor project(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias = {});
// The config's hidden activation (silu, gelu with tanh, gelu, relu).
at::Tensor activate(const at::Tensor& x, hf::activation act);
at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps);

// q [tokens, heads, d], k/v [tokens, kv_heads, d]: the step's new tokens.
// Writes k/v into the cache at their rows' places, attends each row to its
// sequence so far, returns [tokens, heads * d].
at::Tensor cached_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, kv_cache& cache,
                            std::size_t layer, const lm_step& step, std::optional<std::int64_t> window);

// The step's tokens and positions as device tensors, and the indices of each
// row's last token (what the logits are taken at).
struct step_tensors {
    at::Tensor tokens, positions, last;
};
step_tensors step_inputs(const lm_step& step, at::Device device);

} // namespace tether::agent::lm

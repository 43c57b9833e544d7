#pragma once
// The pieces the encoder-decoder and encoder models share (Whisper, BERT and
// its kin, ViT, BART): a linear layer and a layer norm taken from a folder's
// weights, attention heads split and joined, softmax attention with the
// softmax in float32, and the dtype a folder computes in.

#include "backends/torch/lm/attention.hpp"
#include "backends/torch/lm/lm_weights.hpp"

#include <ATen/ATen.h>

#include <filesystem>
#include <optional>
#include <string>

namespace tether::agent::lm {

// x [..., in] · weightᵀ (+ bias) through project() on the rows: one row (a
// decode step) is a matrix-vector product, not a GEMM that packs the weight.
struct linear {
    at::Tensor weight, bias;
    at::Tensor operator()(const at::Tensor& x) const {
        if (x.dim() == 2) return project(x, weight, bias);
        auto shape = x.sizes().vec();
        shape.back() = weight.size(0);
        return project(x.reshape({-1, x.size(-1)}), weight, bias).view(shape);
    }
};

struct norm {
    at::Tensor weight, bias;
    double eps = 1e-5;
    at::Tensor operator()(const at::Tensor& x) const { return layer_norm(x, weight, bias, eps); }
};

// name.weight [out, in] and (when `bias`) name.bias [out].
inline linear take_linear(lm_weights& w, const std::string& name, std::int64_t out, std::int64_t in, bool bias = true) {
    linear l;
    l.weight = w.take(name + ".weight", {out, in});
    if (bias) l.bias = w.take(name + ".bias", {out});
    return l;
}

inline norm take_norm(lm_weights& w, const std::string& name, std::int64_t width, double eps) {
    return {w.take(name + ".weight", {width}), w.take(name + ".bias", {width}), eps};
}

// An attention block's projections (Whisper and BART's names: q_proj,
// k_proj, v_proj, out_proj; Whisper's k_proj has no bias).
struct attention {
    linear q, k, v, out;
};

inline attention take_attention(lm_weights& w, const std::string& name, std::int64_t width, bool k_bias = true) {
    return {take_linear(w, name + ".q_proj", width, width), take_linear(w, name + ".k_proj", width, width, k_bias),
            take_linear(w, name + ".v_proj", width, width), take_linear(w, name + ".out_proj", width, width)};
}

// [B, T, d] -> [B, heads, T, head_dim]
inline at::Tensor heads_first(const at::Tensor& x, std::int64_t heads) {
    return x.view({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}

// [B, heads, T, head_dim] -> [B, T, d]
inline at::Tensor heads_last(const at::Tensor& x) {
    return x.transpose(1, 2).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});
}

// softmax(q kᵀ + mask) v, the softmax in float32; q already scaled.
inline at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask = {}) {
    at::Tensor scores = at::matmul(q, k.transpose(-1, -2)).to(at::kFloat);
    if (mask.defined()) scores = scores + mask;
    return at::matmul(at::softmax(scores, -1).to(v.scalar_type()), v);
}

// float32 on the CPU; on another device the `requested` dtype, else the one
// most of the folder's weights are stored in (the files are only mapped).
inline at::ScalarType compute_dtype(const std::filesystem::path& dir, at::Device device, std::optional<at::ScalarType> requested) {
    if (device.is_cpu()) return at::kFloat;
    if (requested) return *requested;
    const auto s = lm_weights(dir, at::kCPU, at::kFloat).stored_dtype();
    return s == "F16" ? at::kHalf : s == "BF16" ? at::kBFloat16 : at::kFloat;
}

} // namespace tether::agent::lm

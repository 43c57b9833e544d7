#include "backends/torch/lm/attention.hpp"

#include <cmath>
#include <limits>

namespace tether::agent::lm {

at::Tensor rope_inverse_frequencies(const hf::lm_config& c, std::int64_t head_dim) {
    const auto opts = at::TensorOptions().dtype(at::kDouble);
    at::Tensor inv = 1.0 / at::pow(c.rope.theta, at::arange(0, head_dim, 2, opts) / static_cast<double>(head_dim));
    switch (c.rope.kind) {
    case hf::rope_kind::standard: break;
    case hf::rope_kind::linear: inv = inv / c.rope.factor; break;
    case hf::rope_kind::llama3: {
        // Long wavelengths slowed by `factor`, short ones kept, the band
        // between blended (transformers' _compute_llama3_parameters).
        const double old = static_cast<double>(c.rope.original_max_position);
        const double low_wl = old / c.rope.low_freq_factor, high_wl = old / c.rope.high_freq_factor;
        const at::Tensor wavelen = 2.0 * M_PI / inv;
        const at::Tensor scaled = at::where(wavelen > low_wl, inv / c.rope.factor, inv);
        const at::Tensor smooth = (old / wavelen - c.rope.low_freq_factor) / (c.rope.high_freq_factor - c.rope.low_freq_factor);
        const at::Tensor smoothed = (1 - smooth) * scaled / c.rope.factor + smooth * scaled;
        const at::Tensor medium = at::logical_and(wavelen >= high_wl, wavelen <= low_wl);
        inv = at::where(medium, smoothed, scaled);
        break;
    }
    }
    return inv;
}

rotary::rotary(const hf::lm_config& c, std::int64_t positions, at::Device device, at::ScalarType dtype) {
    const at::Tensor inv = rope_inverse_frequencies(c, c.head_dim);
    const at::Tensor pos = at::arange(positions, at::TensorOptions().dtype(at::kDouble));
    const at::Tensor freqs = at::outer(pos, inv);
    const at::Tensor emb = at::cat({freqs, freqs}, -1);
    cos_ = emb.cos().to(device, dtype);
    sin_ = emb.sin().to(device, dtype);
}

at::Tensor rotary::apply(const at::Tensor& x, const at::Tensor& positions) const {
    const auto half = x.size(-1) / 2;
    const at::Tensor cos = cos_.index_select(0, positions).unsqueeze(1);
    const at::Tensor sin = sin_.index_select(0, positions).unsqueeze(1);
    const at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
    return x * cos + rotated * sin;
}

at::Tensor project(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
    if (x.size(0) != 1 || !x.device().is_cpu()) return at::linear(x, weight, bias);
    at::Tensor y = at::mv(weight, x[0]).unsqueeze(0);
    return bias.defined() ? y + bias : y;
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
    // In float32 whatever the compute dtype, as transformers' LlamaRMSNorm.
    const at::Tensor f = x.to(at::kFloat);
    const at::Tensor normed = f * at::rsqrt(f.pow(2).mean(-1, true) + eps);
    return weight * normed.to(x.scalar_type());
}

at::Tensor activate(const at::Tensor& x, hf::activation act) {
    switch (act) {
    case hf::activation::silu: return at::silu(x);
    case hf::activation::gelu_tanh: return at::gelu(x, "tanh");
    case hf::activation::gelu: return at::gelu(x);
    case hf::activation::relu: return at::relu(x);
    }
    return x;
}

at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps) {
    const at::Tensor f = x.to(at::kFloat);
    const at::Tensor out = at::layer_norm(f, {x.size(-1)}, weight.to(at::kFloat), bias.to(at::kFloat), eps);
    return out.to(x.scalar_type());
}

at::Tensor cached_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, kv_cache& cache,
                            std::size_t layer, const lm_step& step, std::optional<std::int64_t> window) {
    const std::int64_t heads = q.size(1), kv_heads = k.size(1), d = q.size(2);
    const std::int64_t group = heads / kv_heads;
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));
    at::Tensor& keys = cache.keys(layer);
    at::Tensor& values = cache.values(layer);
    std::vector<at::Tensor> out;
    out.reserve(step.rows.size());
    std::int64_t offset = 0;
    for (const auto& row : step.rows) {
        const std::int64_t n = row.length, end = row.start + row.length;
        at::Tensor slot_k = keys[row.slot], slot_v = values[row.slot]; // [kv_heads, capacity, d]
        slot_k.narrow(1, row.start, n).copy_(k.narrow(0, offset, n).transpose(0, 1));
        slot_v.narrow(1, row.start, n).copy_(v.narrow(0, offset, n).transpose(0, 1));
        // The keys this row can see: all of its sequence, or the window's last ones.
        std::int64_t first = 0;
        if (window && n == 1) first = std::max<std::int64_t>(0, end - *window);
        const at::Tensor kc = slot_k.narrow(1, first, end - first), vc = slot_v.narrow(1, first, end - first);
        // [n, heads, d] -> [kv_heads, group * n, d]: query head h uses kv head h / group.
        const at::Tensor qr = q.narrow(0, offset, n).permute({1, 0, 2}).reshape({kv_heads, group * n, d});
        at::Tensor scores = at::matmul(qr, kc.transpose(1, 2)).to(at::kFloat) * scale; // [kv_heads, group * n, keys]
        if (n > 1) {
            // Causal (and windowed) within the chunk: query i sits at start + i.
            const auto opts = at::TensorOptions().dtype(at::kLong).device(q.device());
            const at::Tensor qpos = at::arange(row.start, end, opts).unsqueeze(1);
            const at::Tensor kpos = at::arange(first, end, opts).unsqueeze(0);
            at::Tensor allowed = kpos <= qpos;
            if (window) allowed = at::logical_and(allowed, kpos > qpos - *window);
            scores = scores.view({kv_heads, group, n, end - first})
                         .masked_fill(at::logical_not(allowed), -std::numeric_limits<float>::infinity())
                         .view({kv_heads, group * n, end - first});
        }
        const at::Tensor probs = at::softmax(scores, -1).to(q.scalar_type());
        const at::Tensor ctx = at::matmul(probs, vc); // [kv_heads, group * n, d]
        out.push_back(ctx.view({heads, n, d}).permute({1, 0, 2}).reshape({n, heads * d}));
        offset += n;
    }
    return out.size() == 1 ? out.front() : at::cat(out, 0);
}

step_tensors step_inputs(const lm_step& step, at::Device device) {
    std::vector<std::int64_t> positions, last;
    positions.reserve(step.tokens.size());
    std::int64_t offset = 0;
    for (const auto& row : step.rows) {
        for (std::int64_t i = 0; i < row.length; ++i) positions.push_back(row.start + i);
        offset += row.length;
        last.push_back(offset - 1);
    }
    const auto cpu = at::TensorOptions().dtype(at::kLong);
    const auto n = static_cast<std::int64_t>(step.tokens.size());
    step_tensors t;
    t.tokens = at::from_blob(const_cast<std::int64_t*>(step.tokens.data()), {n}, cpu).to(device);
    t.positions = at::from_blob(positions.data(), {n}, cpu).to(device);
    t.last = at::from_blob(last.data(), {static_cast<std::int64_t>(last.size())}, cpu).to(device);
    if (device.is_cpu()) { // from_blob views the vectors: make them own their data
        t.tokens = t.tokens.clone();
        t.positions = t.positions.clone();
        t.last = t.last.clone();
    }
    return t;
}

} // namespace tether::agent::lm

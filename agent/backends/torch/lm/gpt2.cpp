#include "backends/torch/lm/gpt2.hpp"

#include "backends/torch/lm/attention.hpp"

namespace tether::agent::lm {
namespace {

// Conv1D keeps its weight as [in, out]; stored transposed once, so that
// at::linear reads it as every other projection.
struct conv1d {
    at::Tensor weight, bias;
    at::Tensor operator()(const at::Tensor& x) const { return project(x, weight, bias); }
};

conv1d take_conv1d(lm_weights& w, const std::string& name, std::int64_t in, std::int64_t out) {
    return {w.take(name + ".weight", {in, out}).t().contiguous(), w.take(name + ".bias", {out})};
}

struct block {
    at::Tensor ln1_w, ln1_b, ln2_w, ln2_b;
    conv1d attn, proj, fc, out;
};

class gpt2 final : public causal_lm {
  public:
    gpt2(hf::lm_config c, lm_weights& w) : causal_lm(std::move(c), w.device(), w.compute_dtype()) {
        const auto& cfg = config_;
        stored_ = w.stored_dtype();
        const std::string p = w.has("transformer.wte.weight") ? "transformer." : "";
        const std::int64_t h = cfg.hidden_size;
        wte_ = w.take(p + "wte.weight", {cfg.vocab_size, h});
        wpe_ = w.take(p + "wpe.weight", {cfg.max_position, h});
        for (std::int64_t i = 0; i < cfg.num_layers; ++i) {
            const std::string q = p + "h." + std::to_string(i) + ".";
            block b;
            b.ln1_w = w.take(q + "ln_1.weight", {h});
            b.ln1_b = w.take(q + "ln_1.bias", {h});
            b.ln2_w = w.take(q + "ln_2.weight", {h});
            b.ln2_b = w.take(q + "ln_2.bias", {h});
            b.attn = take_conv1d(w, q + "attn.c_attn", h, 3 * h);
            b.proj = take_conv1d(w, q + "attn.c_proj", h, h);
            b.fc = take_conv1d(w, q + "mlp.c_fc", h, cfg.intermediate_size);
            b.out = take_conv1d(w, q + "mlp.c_proj", cfg.intermediate_size, h);
            blocks_.push_back(std::move(b));
        }
        lnf_w_ = w.take(p + "ln_f.weight", {h});
        lnf_b_ = w.take(p + "ln_f.bias", {h});
        if (w.has("lm_head.weight")) (void)w.take("lm_head.weight", {cfg.vocab_size, h}); // tied: the same as wte
        for (const auto& b : blocks_)
            for (const auto* c1 : {&b.attn, &b.proj, &b.fc, &b.out})
                weight_bytes_ += static_cast<std::uint64_t>(c1->weight.numel()) * c1->weight.element_size();
        weight_bytes_ += static_cast<std::uint64_t>(wte_.numel()) * wte_.element_size();
    }

    at::Tensor forward(const lm_step& step, kv_cache& cache) override {
        const auto& cfg = config_;
        const step_tensors in = step_inputs(step, device_);
        const std::int64_t n = in.tokens.size(0), h = cfg.hidden_size;
        at::Tensor x = wte_.index_select(0, in.tokens) + wpe_.index_select(0, in.positions);
        for (std::size_t i = 0; i < blocks_.size(); ++i) {
            const auto& b = blocks_[i];
            const at::Tensor r = layer_norm(x, b.ln1_w, b.ln1_b, cfg.norm_eps);
            const auto qkv = b.attn(r).split(h, -1);
            const at::Tensor q = qkv[0].view({n, cfg.num_heads, cfg.head_dim});
            const at::Tensor k = qkv[1].view({n, cfg.num_heads, cfg.head_dim});
            const at::Tensor v = qkv[2].view({n, cfg.num_heads, cfg.head_dim});
            x = x + b.proj(cached_attention(q, k, v, cache, i, step, std::nullopt));
            const at::Tensor m = layer_norm(x, b.ln2_w, b.ln2_b, cfg.norm_eps);
            x = x + b.out(activate(b.fc(m), cfg.act));
        }
        if (!step.all_logits) x = x.index_select(0, in.last);
        x = layer_norm(x, lnf_w_, lnf_b_, cfg.norm_eps);
        return project(x, wte_).to(at::kCPU, at::kFloat);
    }

  private:
    at::Tensor wte_, wpe_, lnf_w_, lnf_b_;
    std::vector<block> blocks_;
};

} // namespace

std::unique_ptr<causal_lm> make_gpt2(hf::lm_config config, lm_weights& weights) {
    return std::make_unique<gpt2>(std::move(config), weights);
}

} // namespace tether::agent::lm

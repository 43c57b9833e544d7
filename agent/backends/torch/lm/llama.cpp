#include "backends/torch/lm/llama.hpp"

#include "backends/torch/lm/attention.hpp"

namespace tether::agent::lm {
namespace {

struct projection {
    at::Tensor weight, bias; // bias undefined when the layer has none
    at::Tensor operator()(const at::Tensor& x) const { return project(x, weight, bias); }
};

projection take_projection(lm_weights& w, const std::string& name, std::int64_t out, std::int64_t in, bool bias) {
    projection p{w.take(name + ".weight", {out, in}), {}};
    if (bias) p.bias = w.take(name + ".bias", {out});
    return p;
}

struct decoder_layer {
    at::Tensor input_norm, post_attention_norm;
    projection q, k, v, o, gate, up, down;
};

class llama final : public causal_lm {
  public:
    llama(hf::lm_config c, lm_weights& w) : causal_lm(std::move(c), w.device(), w.compute_dtype()) {
        const auto& cfg = config_;
        stored_ = w.stored_dtype();
        const std::int64_t h = cfg.hidden_size, hd = cfg.head_dim, q_out = cfg.num_heads * hd, kv_out = cfg.num_kv_heads * hd;
        embed_ = w.take("model.embed_tokens.weight", {cfg.vocab_size, h});
        for (std::int64_t i = 0; i < cfg.num_layers; ++i) {
            const std::string p = "model.layers." + std::to_string(i) + ".";
            decoder_layer l;
            l.input_norm = w.take(p + "input_layernorm.weight", {h});
            l.post_attention_norm = w.take(p + "post_attention_layernorm.weight", {h});
            l.q = take_projection(w, p + "self_attn.q_proj", q_out, h, cfg.qkv_bias);
            l.k = take_projection(w, p + "self_attn.k_proj", kv_out, h, cfg.qkv_bias);
            l.v = take_projection(w, p + "self_attn.v_proj", kv_out, h, cfg.qkv_bias);
            l.o = take_projection(w, p + "self_attn.o_proj", h, q_out, cfg.o_bias);
            l.gate = take_projection(w, p + "mlp.gate_proj", cfg.intermediate_size, h, cfg.mlp_bias);
            l.up = take_projection(w, p + "mlp.up_proj", cfg.intermediate_size, h, cfg.mlp_bias);
            l.down = take_projection(w, p + "mlp.down_proj", h, cfg.intermediate_size, cfg.mlp_bias);
            layers_.push_back(std::move(l));
        }
        norm_ = w.take("model.norm.weight", {h});
        // Tied: the embeddings are the head (a tied checkpoint that stores
        // lm_head as well has the same values there).
        if (cfg.tie_word_embeddings && !w.has("lm_head.weight")) head_ = embed_;
        else head_ = w.take("lm_head.weight", {cfg.vocab_size, h});
        rotary_.emplace(cfg, cfg.max_position, device_, dtype_);
        auto count = [&](const at::Tensor& t) { weight_bytes_ += static_cast<std::uint64_t>(t.numel()) * t.element_size(); };
        // What one decode token reads: every projection and the head (of
        // the embeddings only one row, which does not count).
        for (const auto& l : layers_)
            for (const auto* p : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) count(p->weight);
        count(head_);
    }

    at::Tensor forward(const lm_step& step, kv_cache& cache) override {
        const auto& cfg = config_;
        const step_tensors in = step_inputs(step, device_);
        const std::int64_t n = in.tokens.size(0);
        at::Tensor x = embed_.index_select(0, in.tokens); // [n, hidden]
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            const auto& l = layers_[i];
            const at::Tensor r = rms_norm(x, l.input_norm, cfg.norm_eps);
            const at::Tensor q = rotary_->apply(l.q(r).view({n, cfg.num_heads, cfg.head_dim}), in.positions);
            const at::Tensor k = rotary_->apply(l.k(r).view({n, cfg.num_kv_heads, cfg.head_dim}), in.positions);
            const at::Tensor v = l.v(r).view({n, cfg.num_kv_heads, cfg.head_dim});
            x = x + l.o(cached_attention(q, k, v, cache, i, step, cfg.sliding_window));
            const at::Tensor m = rms_norm(x, l.post_attention_norm, cfg.norm_eps);
            x = x + l.down(activate(l.gate(m), cfg.act) * l.up(m));
        }
        if (!step.all_logits) x = x.index_select(0, in.last);
        x = rms_norm(x, norm_, cfg.norm_eps);
        return project(x, head_).to(at::kCPU, at::kFloat);
    }

  private:
    at::Tensor embed_, norm_, head_;
    std::vector<decoder_layer> layers_;
    std::optional<rotary> rotary_;
};

} // namespace

std::unique_ptr<causal_lm> make_llama(hf::lm_config config, lm_weights& weights) {
    return std::make_unique<llama>(std::move(config), weights);
}

} // namespace tether::agent::lm

#include "backends/torch/encoder/encoder_model.hpp"

#include "backends/hf/folder_error.hpp"
#include "backends/torch/lm/layers.hpp"
#include "backends/torch/torch_model.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace tether::agent::encoder {
namespace {

using hf::encoder_family;

using lm::linear;
using lm::norm;
using lm::heads_first;
using lm::heads_last;

// Where a family keeps a layer's tensors, under PREFIX + layers + i + ".".
struct layer_names {
    const char* layers;
    const char *q, *k, *v, *out, *attn_norm, *fc1, *fc2, *mlp_norm;
};

const layer_names& names_of(encoder_family f) {
    static const layer_names bert{"encoder.layer.",          "attention.self.query", "attention.self.key",
                                  "attention.self.value",    "attention.output.dense", "attention.output.LayerNorm",
                                  "intermediate.dense",      "output.dense",           "output.LayerNorm"};
    static const layer_names distilbert{"transformer.layer.", "attention.q_lin", "attention.k_lin", "attention.v_lin",
                                        "attention.out_lin",  "sa_layer_norm",   "ffn.lin1",        "ffn.lin2",
                                        "output_layer_norm"};
    static const layer_names vit{"encoder.layer.",         "attention.attention.query", "attention.attention.key",
                                 "attention.attention.value", "attention.output.dense", "layernorm_before",
                                 "intermediate.dense",     "output.dense",              "layernorm_after"};
    return f == encoder_family::distilbert ? distilbert : f == encoder_family::vit ? vit : bert;
}

// One transformer layer: BERT's post-norm order or ViT's pre-norm one.
struct layer {
    linear q, k, v, out, fc1, fc2;
    norm attn_norm, mlp_norm; // post-norm: after the residual; pre-norm: before the block
};

} // namespace

struct encoder_model::impl {
    const hf::encoder_config& cfg;
    at::Device device;
    at::ScalarType dtype;
    std::string stored;
    // text embeddings
    at::Tensor word, position, token_type;
    norm embed_norm;
    // vit embeddings
    at::Tensor cls_token, patch_w, patch_b, vit_position;
    norm final_norm; // vit
    std::vector<layer> layers;
    // heads
    linear pooler, head_dense, classifier;

    impl(const std::filesystem::path& dir, const hf::encoder_config& c, const load_options& o)
        : cfg(c), device(o.device), dtype(lm::compute_dtype(dir, o.device, o.dtype)) {
        lm::lm_weights w(dir, device, dtype);
        stored = w.stored_dtype();
        load(w);
    }

    static linear take_linear(lm::lm_weights& w, const std::string& name, std::int64_t out, std::int64_t in, bool bias = true) {
        return lm::take_linear(w, name, out, in, bias);
    }
    norm take_norm(lm::lm_weights& w, const std::string& name) const { return lm::take_norm(w, name, cfg.hidden_size, cfg.norm_eps); }

    // The base model's prefix the folder uses ("bert.", "roberta.", …, or none).
    std::string prefix(const lm::lm_weights& w) const {
        std::string base;
        switch (cfg.family) {
        case encoder_family::bert: base = "bert."; break;
        case encoder_family::roberta: base = "roberta."; break;
        case encoder_family::distilbert: base = "distilbert."; break;
        case encoder_family::vit: base = "vit."; break;
        }
        const std::string probe = cfg.family == encoder_family::vit ? "embeddings.cls_token" : "embeddings.word_embeddings.weight";
        if (w.has(base + probe)) return base;
        if (w.has(probe)) return "";
        throw hf::folder_error("model.safetensors: no " + base + probe + " (nor " + probe + "): not a " + cfg.model_type +
                               " checkpoint");
    }

    // Every layer, by the family's names; q, k, v without bias when the config says (ViT's qkv_bias).
    void load_layers(lm::lm_weights& w, const std::string& p) {
        const auto d = cfg.hidden_size, ffn = cfg.intermediate_size;
        const auto& n = names_of(cfg.family);
        for (std::int64_t i = 0; i < cfg.num_layers; ++i) {
            const std::string q = p + n.layers + std::to_string(i) + ".";
            layer l;
            l.q = take_linear(w, q + n.q, d, d, cfg.qkv_bias);
            l.k = take_linear(w, q + n.k, d, d, cfg.qkv_bias);
            l.v = take_linear(w, q + n.v, d, d, cfg.qkv_bias);
            l.out = take_linear(w, q + n.out, d, d);
            l.attn_norm = take_norm(w, q + n.attn_norm);
            l.fc1 = take_linear(w, q + n.fc1, ffn, d);
            l.fc2 = take_linear(w, q + n.fc2, d, ffn);
            l.mlp_norm = take_norm(w, q + n.mlp_norm);
            layers.push_back(std::move(l));
        }
    }

    void load(lm::lm_weights& w) {
        const std::string p = prefix(w);
        const auto d = cfg.hidden_size;
        if (cfg.family == encoder_family::vit) {
            const auto patches = (cfg.image_size / cfg.patch_size) * (cfg.image_size / cfg.patch_size);
            cls_token = w.take(p + "embeddings.cls_token", {1, 1, d});
            vit_position = w.take(p + "embeddings.position_embeddings", {1, patches + 1, d});
            patch_w = w.take(p + "embeddings.patch_embeddings.projection.weight", {d, cfg.num_channels, cfg.patch_size, cfg.patch_size});
            patch_b = w.take(p + "embeddings.patch_embeddings.projection.bias", {d});
            load_layers(w, p);
            final_norm = take_norm(w, p + "layernorm");
            classifier = take_linear(w, "classifier", static_cast<std::int64_t>(cfg.labels.size()), d);
            return;
        }
        word = w.take(p + "embeddings.word_embeddings.weight", {cfg.vocab_size, d});
        position = w.take(p + "embeddings.position_embeddings.weight", {cfg.max_position, d});
        if (cfg.family != encoder_family::distilbert && cfg.type_vocab_size > 0)
            token_type = w.take(p + "embeddings.token_type_embeddings.weight", {cfg.type_vocab_size, d});
        embed_norm = take_norm(w, p + "embeddings.LayerNorm");
        load_layers(w, p);
        if (cfg.task != hf::encoder_task::text_classification) return;
        const auto labels = static_cast<std::int64_t>(cfg.labels.size());
        switch (cfg.family) {
        case encoder_family::bert:
            pooler = take_linear(w, p + "pooler.dense", d, d);
            classifier = take_linear(w, "classifier", labels, d);
            break;
        case encoder_family::roberta:
            head_dense = take_linear(w, "classifier.dense", d, d);
            classifier = take_linear(w, "classifier.out_proj", labels, d);
            break;
        case encoder_family::distilbert:
            head_dense = take_linear(w, "pre_classifier", d, d);
            classifier = take_linear(w, "classifier", labels, d);
            break;
        case encoder_family::vit: break;
        }
    }

    // softmax(q kᵀ / √d + bias) v over every layer; `bias` [B, 1, 1, L] (or undefined).
    at::Tensor run_layers(at::Tensor x, const at::Tensor& bias, bool pre_norm) const {
        const auto h = cfg.num_heads;
        const double scale = 1.0 / std::sqrt(static_cast<double>(cfg.hidden_size / h));
        for (const auto& l : layers) {
            const at::Tensor in = pre_norm ? l.attn_norm(x) : x;
            const at::Tensor q = heads_first(l.q(in) * scale, h);
            const at::Tensor k = heads_first(l.k(in), h);
            const at::Tensor v = heads_first(l.v(in), h);
            const at::Tensor a = l.out(heads_last(lm::attend(q, k, v, bias)));
            if (pre_norm) {
                x = x + a;
                x = x + l.fc2(lm::activate(l.fc1(l.mlp_norm(x)), cfg.act));
            } else {
                x = l.attn_norm(x + a);
                x = l.mlp_norm(x + l.fc2(lm::activate(l.fc1(x), cfg.act)));
            }
        }
        return x;
    }

    at::Tensor encode_text(const at::Tensor& ids_in, const at::Tensor& mask_in) const {
        const at::Tensor ids = ids_in.to(device, at::kLong);
        const at::Tensor mask = mask_in.to(device, at::kLong);
        const auto B = ids.size(0), L = ids.size(1);
        if (L > cfg.max_tokens())
            throw std::runtime_error(fmt::format("{} tokens, over the model's {}", L, cfg.max_tokens()));
        at::Tensor pos;
        if (cfg.family == encoder_family::roberta) {
            // transformers' create_position_ids_from_input_ids: padding ids keep the padding position.
            const at::Tensor real = ids.ne(cfg.pad_token_id).to(at::kLong);
            pos = at::cumsum(real, 1) * real + cfg.pad_token_id;
        } else {
            pos = at::arange(L, at::TensorOptions().dtype(at::kLong).device(device)).unsqueeze(0).expand({B, L});
        }
        at::Tensor x = word.index_select(0, ids.reshape({-1})).view({B, L, cfg.hidden_size});
        x = x + position.index_select(0, pos.reshape({-1})).view({B, L, cfg.hidden_size});
        if (token_type.defined()) x = x + token_type[0];
        x = embed_norm(x);
        // Padding keys get the most negative float (transformers' extended mask).
        const at::Tensor bias = (1.0 - mask.to(at::kFloat)).view({B, 1, 1, L}) * std::numeric_limits<float>::lowest();
        return run_layers(x, bias, false);
    }

    at::Tensor encode_image(const at::Tensor& pixels) const {
        const at::Tensor px = pixels.to(device, dtype);
        const auto B = px.size(0);
        if (px.dim() != 4 || px.size(1) != cfg.num_channels || px.size(2) != cfg.image_size || px.size(3) != cfg.image_size)
            throw std::runtime_error(fmt::format("pixels of shape {}, expected [B, {}, {}, {}]", shape_text(px),
                                                 cfg.num_channels, cfg.image_size, cfg.image_size));
        at::Tensor x = at::conv2d(px, patch_w, patch_b, cfg.patch_size); // [B, d, n, n]
        x = x.flatten(2).transpose(1, 2);                                  // [B, patches, d]
        x = at::cat({cls_token.expand({B, 1, cfg.hidden_size}), x}, 1) + vit_position;
        return final_norm(run_layers(x, {}, true));
    }

    at::Tensor classify(const at::Tensor& hidden) const {
        const at::Tensor first = hidden.select(1, 0);
        at::Tensor logits;
        switch (cfg.family) {
        case encoder_family::bert: logits = classifier(at::tanh(pooler(first))); break;
        case encoder_family::roberta: logits = classifier(at::tanh(head_dense(first))); break;
        case encoder_family::distilbert: logits = classifier(at::relu(head_dense(first))); break;
        case encoder_family::vit: logits = classifier(first); break;
        }
        return logits.to(at::kCPU, at::kFloat);
    }

    at::Tensor pool(const at::Tensor& hidden_in, const at::Tensor& mask_in) const {
        const at::Tensor hidden = hidden_in.to(at::kFloat);
        const at::Tensor m = mask_in.to(hidden.device(), at::kFloat).unsqueeze(-1); // [B, L, 1]
        at::Tensor out;
        switch (cfg.pooling) {
        case hf::pooling_mode::cls: out = hidden.select(1, 0); break;
        case hf::pooling_mode::max: out = std::get<0>(hidden.masked_fill(m.eq(0), -1e9).max(1)); break;
        case hf::pooling_mode::mean:
        case hf::pooling_mode::mean_sqrt_len: {
            const at::Tensor sum = (hidden * m).sum(1);
            const at::Tensor n = m.sum(1).clamp_min(1e-9);
            out = cfg.pooling == hf::pooling_mode::mean ? sum / n : sum / n.sqrt();
            break;
        }
        }
        if (cfg.normalize) out = out / out.norm(2, {1}, true).clamp_min(1e-12);
        return out.to(at::kCPU).contiguous();
    }
};

encoder_model::encoder_model(const std::filesystem::path& dir, hf::encoder_config config, const load_options& options)
    : config_(std::move(config)), device_(options.device), impl_(std::make_unique<impl>(dir, config_, options)) {}

encoder_model::~encoder_model() = default;

at::Tensor encoder_model::encode_text(const at::Tensor& ids, const at::Tensor& mask) const {
    at::NoGradGuard no_grad;
    return impl_->encode_text(ids, mask);
}

at::Tensor encoder_model::encode_image(const at::Tensor& pixels) const {
    at::NoGradGuard no_grad;
    return impl_->encode_image(pixels);
}

at::Tensor encoder_model::classify(const at::Tensor& hidden) const {
    at::NoGradGuard no_grad;
    return impl_->classify(hidden);
}

at::Tensor encoder_model::pool(const at::Tensor& hidden, const at::Tensor& mask) const {
    at::NoGradGuard no_grad;
    return impl_->pool(hidden, mask);
}

std::string encoder_model::describe() const {
    const auto& c = config_;
    std::string what;
    switch (c.task) {
    case hf::encoder_task::text_classification: what = fmt::format("text classification ({} labels)", c.labels.size()); break;
    case hf::encoder_task::image_classification: what = fmt::format("image classification ({} labels)", c.labels.size()); break;
    case hf::encoder_task::embeddings:
        what = fmt::format("embeddings of {} ({} pooling{})", c.hidden_size,
                           c.pooling == hf::pooling_mode::cls    ? "CLS"
                           : c.pooling == hf::pooling_mode::max  ? "max"
                           : c.pooling == hf::pooling_mode::mean ? "mean"
                                                                 : "mean/sqrt(len)",
                           c.normalize ? ", normalised" : "");
        break;
    }
    return fmt::format("{}, {} layers, width {}, {}, {} stored, computed in {} on {}", c.model_type, c.num_layers, c.hidden_size,
                       what, impl_->stored, c10::toString(impl_->dtype), device_.str());
}

} // namespace tether::agent::encoder

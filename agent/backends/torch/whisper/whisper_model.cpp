#include "backends/torch/whisper/whisper_model.hpp"

#include "backends/hf/folder_error.hpp"
#include "backends/torch/lm/layers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace tether::agent::whisper {
namespace {

using lm::project;
using namespace at::indexing;

constexpr double ln_eps = 1e-5;

using lm::linear;
using lm::norm;
using lm::heads_first;
using lm::heads_last;
using lm::attend;

using lm::attention; // k has no bias

struct encoder_layer {
    norm attn_ln, mlp_ln;
    attention attn;
    linear fc1, fc2;
};

struct decoder_layer {
    norm self_ln, cross_ln, mlp_ln;
    attention self_attn, cross_attn;
    linear fc1, fc2;
};

} // namespace

struct whisper_model::impl {
    const hf::whisper_config& cfg;
    at::Device device;
    at::ScalarType dtype;
    std::string stored;
    at::Tensor conv1_w, conv1_b, conv2_w, conv2_b, enc_pos;
    std::vector<encoder_layer> enc;
    norm enc_ln;
    at::Tensor embed, dec_pos;
    std::vector<decoder_layer> dec;
    norm dec_ln;
    double embed_scale = 1.0;

    impl(const std::filesystem::path& dir, const hf::whisper_config& c, const load_options& o)
        : cfg(c), device(o.device), dtype(lm::compute_dtype(dir, o.device, o.dtype)) {
        lm::lm_weights weights(dir, device, dtype);
        stored = weights.stored_dtype();
        load(weights);
    }

    static linear take_linear(lm::lm_weights& w, const std::string& name, std::int64_t out, std::int64_t in, bool bias = true) {
        return lm::take_linear(w, name, out, in, bias);
    }
    norm take_norm(lm::lm_weights& w, const std::string& name) const { return lm::take_norm(w, name, cfg.arch.d_model, ln_eps); }
    attention take_attention(lm::lm_weights& w, const std::string& name) const {
        return lm::take_attention(w, name, cfg.arch.d_model, false);
    }

    void load(lm::lm_weights& w) {
        const auto& a = cfg.arch;
        const std::string p = w.has("model.encoder.conv1.weight") ? "model." : "";
        const auto d = a.d_model;
        conv1_w = w.take(p + "encoder.conv1.weight", {d, a.num_mel_bins, 3});
        conv1_b = w.take(p + "encoder.conv1.bias", {d});
        conv2_w = w.take(p + "encoder.conv2.weight", {d, d, 3});
        conv2_b = w.take(p + "encoder.conv2.bias", {d});
        enc_pos = w.take(p + "encoder.embed_positions.weight", {a.max_source_positions, d});
        for (std::int64_t i = 0; i < a.encoder_layers; ++i) {
            const std::string q = p + "encoder.layers." + std::to_string(i) + ".";
            encoder_layer l;
            l.attn_ln = take_norm(w, q + "self_attn_layer_norm");
            l.attn = take_attention(w, q + "self_attn");
            l.mlp_ln = take_norm(w, q + "final_layer_norm");
            l.fc1 = take_linear(w, q + "fc1", a.encoder_ffn, d);
            l.fc2 = take_linear(w, q + "fc2", d, a.encoder_ffn);
            enc.push_back(std::move(l));
        }
        enc_ln = take_norm(w, p + "encoder.layer_norm");
        embed = w.take(p + "decoder.embed_tokens.weight", {a.vocab_size, d});
        dec_pos = w.take(p + "decoder.embed_positions.weight", {a.max_target_positions, d});
        for (std::int64_t i = 0; i < a.decoder_layers; ++i) {
            const std::string q = p + "decoder.layers." + std::to_string(i) + ".";
            decoder_layer l;
            l.self_ln = take_norm(w, q + "self_attn_layer_norm");
            l.self_attn = take_attention(w, q + "self_attn");
            l.cross_ln = take_norm(w, q + "encoder_attn_layer_norm");
            l.cross_attn = take_attention(w, q + "encoder_attn");
            l.mlp_ln = take_norm(w, q + "final_layer_norm");
            l.fc1 = take_linear(w, q + "fc1", a.decoder_ffn, d);
            l.fc2 = take_linear(w, q + "fc2", d, a.decoder_ffn);
            dec.push_back(std::move(l));
        }
        dec_ln = take_norm(w, p + "decoder.layer_norm");
        // The output projection is tied to the token embedding; a stored copy must be that.
        if (w.has("proj_out.weight")) (void)w.take("proj_out.weight", {a.vocab_size, d});
        embed_scale = a.scale_embedding ? std::sqrt(static_cast<double>(d)) : 1.0;
    }

    at::Tensor encode(const at::Tensor& mel) const {
        const auto& a = cfg.arch;
        at::Tensor x = mel.to(device, dtype);
        x = at::gelu(at::conv1d(x, conv1_w, conv1_b, 1, 1));
        x = at::gelu(at::conv1d(x, conv2_w, conv2_b, 2, 1));
        x = x.transpose(1, 2); // [B, T, d]
        if (x.size(1) != a.max_source_positions)
            throw std::runtime_error(fmt::format("the encoder got {} frames, expected {}", x.size(1), 2 * a.max_source_positions));
        x = x + enc_pos;
        const auto h = a.encoder_heads;
        const double scale = 1.0 / std::sqrt(static_cast<double>(a.d_model / h));
        for (const auto& l : enc) {
            const at::Tensor r = l.attn_ln(x);
            // One row at a time: the [heads, T, T] scores of a whole batch would be large.
            std::vector<at::Tensor> rows;
            for (std::int64_t b = 0; b < r.size(0); ++b) {
                const at::Tensor rb = r.narrow(0, b, 1);
                const at::Tensor q = heads_first(l.attn.q(rb) * scale, h);
                const at::Tensor k = heads_first(l.attn.k(rb), h);
                const at::Tensor v = heads_first(l.attn.v(rb), h);
                rows.push_back(heads_last(attend(q, k, v)));
            }
            x = x + l.attn.out(at::cat(rows, 0));
            x = x + l.fc2(at::gelu(l.fc1(l.mlp_ln(x))));
        }
        return enc_ln(x);
    }

    // Keys and values per decoder layer, [B, heads, positions, hd]: the
    // encoder states' for cross-attention, and the self-attention cache.
    struct layer_kv {
        std::vector<at::Tensor> k, v;
        layer_kv select(const at::Tensor& rows) const {
            layer_kv out;
            for (std::size_t i = 0; i < k.size(); ++i) {
                out.k.push_back(k[i].index_select(0, rows));
                out.v.push_back(v[i].index_select(0, rows));
            }
            return out;
        }
        layer_kv narrow(std::int64_t row) const {
            layer_kv out;
            for (std::size_t i = 0; i < k.size(); ++i) {
                out.k.push_back(k[i].narrow(0, row, 1));
                out.v.push_back(v[i].narrow(0, row, 1));
            }
            return out;
        }
    };
    using cross_kv = layer_kv;
    using self_kv = layer_kv;

    cross_kv cross(const at::Tensor& encoded) const {
        cross_kv c;
        const auto h = cfg.arch.decoder_heads;
        for (const auto& l : dec) {
            c.k.push_back(heads_first(l.cross_attn.k(encoded), h).contiguous());
            c.v.push_back(heads_first(l.cross_attn.v(encoded), h).contiguous());
        }
        return c;
    }

    self_kv empty_cache(std::int64_t rows) const {
        self_kv c;
        const auto h = cfg.arch.decoder_heads, hd = cfg.arch.d_model / h;
        for (std::size_t i = 0; i < dec.size(); ++i) {
            c.k.push_back(at::zeros({rows, h, cfg.arch.max_target_positions, hd}, at::TensorOptions().device(device).dtype(dtype)));
            c.v.push_back(at::zeros_like(c.k.back()));
        }
        return c;
    }

    // Runs `tokens` [B, L] of rows whose caches hold lens[b] tokens each
    // (B == 1, or L == 1); writes their keys and values; returns the final
    // hidden states [B, L, d] (before the output projection).
    at::Tensor step(const at::Tensor& tokens, const std::vector<std::int64_t>& lens, self_kv& cache, const cross_kv& ckv) const {
        const auto& a = cfg.arch;
        const std::int64_t B = tokens.size(0), L = tokens.size(1), h = a.decoder_heads;
        const double scale = 1.0 / std::sqrt(static_cast<double>(a.d_model / h));
        const at::Tensor ids = tokens.to(device);
        const auto lopts = at::TensorOptions().dtype(at::kLong);
        const at::Tensor lens_t = at::tensor(lens, lopts).to(device);
        const at::Tensor positions = lens_t.unsqueeze(1) + at::arange(L, lopts.device(device)).unsqueeze(0); // [B, L]
        at::Tensor x = embed.index_select(0, ids.reshape({-1})).view({B, L, a.d_model});
        if (embed_scale != 1.0) x = x * embed_scale;
        x = x + dec_pos.index_select(0, positions.reshape({-1})).view({B, L, a.d_model});
        std::int64_t longest = 0;
        for (auto n : lens) longest = std::max(longest, n);
        const std::int64_t keys = longest + L;
        // Row b's query i (at lens[b] + i) sees keys up to its own position.
        const at::Tensor key_pos = at::arange(keys, lopts.device(device)).view({1, 1, 1, keys});
        const at::Tensor mask = at::zeros({B, 1, L, keys}, at::TensorOptions().device(device).dtype(at::kFloat))
                                    .masked_fill_(key_pos > positions.view({B, 1, L, 1}), -std::numeric_limits<float>::infinity());
        const at::Tensor rows = at::arange(B, lopts.device(device));
        for (std::size_t i = 0; i < dec.size(); ++i) {
            const auto& l = dec[i];
            const at::Tensor r = l.self_ln(x);
            const at::Tensor q = heads_first(l.self_attn.q(r) * scale, h);
            const at::Tensor k = heads_first(l.self_attn.k(r), h);
            const at::Tensor v = heads_first(l.self_attn.v(r), h);
            if (B == 1) {
                cache.k[i].narrow(2, lens[0], L).copy_(k);
                cache.v[i].narrow(2, lens[0], L).copy_(v);
            } else {
                cache.k[i].index_put_({rows, Slice(), lens_t}, k.select(2, 0));
                cache.v[i].index_put_({rows, Slice(), lens_t}, v.select(2, 0));
            }
            const at::Tensor ks = cache.k[i].narrow(2, 0, keys), vs = cache.v[i].narrow(2, 0, keys);
            x = x + l.self_attn.out(heads_last(attend(q, ks, vs, mask)));
            const at::Tensor c = heads_first(l.cross_attn.q(l.cross_ln(x)) * scale, h);
            x = x + l.cross_attn.out(heads_last(attend(c, ckv.k[i], ckv.v[i])));
            x = x + l.fc2(at::gelu(l.fc1(l.mlp_ln(x))));
        }
        return dec_ln(x);
    }

    // [B, L, d] -> float32 CPU [B, L, vocab]; one row as a matrix-vector product.
    at::Tensor logits(const at::Tensor& hidden) const {
        const at::Tensor rows = hidden.reshape({-1, hidden.size(-1)});
        at::Tensor out = project(rows, embed);
        return out.view({hidden.size(0), hidden.size(1), embed.size(0)}).to(at::kCPU, at::kFloat);
    }
};

whisper_model::whisper_model(const std::filesystem::path& dir, hf::whisper_config config, const load_options& options)
    : config_(std::move(config)), device_(options.device), impl_(std::make_unique<impl>(dir, config_, options)) {}

whisper_model::~whisper_model() = default;

at::Tensor whisper_model::encode(const at::Tensor& mel) const { return impl_->encode(mel); }

at::Tensor whisper_model::decoder_logits(const at::Tensor& tokens, const at::Tensor& encoded) const {
    auto cache = impl_->empty_cache(tokens.size(0));
    const auto ckv = impl_->cross(encoded.to(device_, impl_->dtype));
    if (tokens.size(0) == 1) return impl_->logits(impl_->step(tokens, {0}, cache, ckv));
    std::vector<at::Tensor> rows;
    for (std::int64_t b = 0; b < tokens.size(0); ++b) {
        auto c = cache.narrow(b);
        rows.push_back(impl_->logits(impl_->step(tokens.narrow(0, b, 1), {0}, c, ckv.narrow(b))));
    }
    return at::cat(rows, 0);
}

std::string whisper_model::describe() const {
    const auto& a = config_.arch;
    return fmt::format("whisper, {}+{} layers, width {}, {} mel bins, {} stored, computed in {} on {}", a.encoder_layers,
                       a.decoder_layers, a.d_model, a.num_mel_bins, impl_->stored, c10::toString(impl_->dtype), device_.str());
}

std::vector<window_output> whisper_model::decode(std::vector<window_job>& jobs) const {
    const auto& cfg = config_;
    const auto& a = cfg.arch;
    const auto B = static_cast<std::int64_t>(jobs.size());
    const std::int64_t mels = a.num_mel_bins, frames = 2 * a.max_source_positions;
    std::vector<window_output> out(jobs.size());
    if (jobs.empty()) return out;
    at::Tensor mel = at::empty({B, mels, frames}, at::kFloat);
    for (std::int64_t b = 0; b < B; ++b) {
        const auto& m = jobs[static_cast<std::size_t>(b)].mel;
        if (static_cast<std::int64_t>(m.size()) != mels * frames)
            throw std::runtime_error(fmt::format("a window has {} features, expected {} x {}", m.size(), mels, frames));
        std::memcpy(mel[b].data_ptr<float>(), m.data(), m.size() * sizeof(float));
    }
    at::NoGradGuard no_grad;
    const at::Tensor encoded = impl_->encode(mel);
    impl::cross_kv ckv = impl_->cross(encoded);
    auto cache = impl_->empty_cache(B);
    const auto vocab = a.vocab_size;

    // Language detection: <|startoftranscript|> alone, the likeliest language token.
    std::vector<std::int64_t> language(jobs.size(), -1);
    for (std::size_t b = 0; b < jobs.size(); ++b) {
        const auto& o = jobs[b].options;
        if (!cfg.generation.is_multilingual) continue;
        if (o.language) {
            language[b] = *o.language;
            continue;
        }
        auto c = cache.narrow(static_cast<std::int64_t>(b));
        const at::Tensor sot = at::full({1, 1}, cfg.tokens.sot, at::kLong);
        const at::Tensor lg = impl_->logits(impl_->step(sot, {0}, c, ckv.narrow(static_cast<std::int64_t>(b))));
        language[b] = detect_language(cfg.tokens, std::span<const float>(lg.data_ptr<float>(), static_cast<std::size_t>(vocab)));
    }

    // Prefill, row by row (prompts differ in length); the logits at
    // <|startoftranscript|> give no_speech_prob, those at the end the first pick.
    struct row_state {
        std::size_t job;
        std::vector<std::int64_t> sampled;
        std::int64_t length = 0; // tokens in the cache
        logit_filter filter;
        std::mt19937_64 rng;
        float temperature;
        std::int64_t budget;
    };
    std::vector<row_state> rows;
    std::vector<std::vector<float>> next_logits;
    for (std::size_t b = 0; b < jobs.size(); ++b) {
        const auto& o = jobs[b].options;
        const auto prompt = decoder_prompt(cfg, jobs[b].previous, language[b], o);
        const auto sot_at = static_cast<std::int64_t>(std::find(prompt.begin(), prompt.end(), cfg.tokens.sot) - prompt.begin());
        auto c = cache.narrow(static_cast<std::int64_t>(b));
        const at::Tensor t = at::tensor(prompt, at::kLong).unsqueeze(0);
        const at::Tensor hidden = impl_->step(t, {0}, c, ckv.narrow(static_cast<std::int64_t>(b)));
        const at::Tensor picks = at::tensor(std::vector<std::int64_t>{sot_at, static_cast<std::int64_t>(prompt.size()) - 1},
                                            at::kLong).to(device_);
        const at::Tensor lg = impl_->logits(hidden.index_select(1, picks))[0].contiguous(); // [2, vocab]
        out[b].language = language[b];
        if (cfg.tokens.no_speech >= 0)
            out[b].no_speech_prob = at::softmax(lg[0].to(at::kDouble), 0)[cfg.tokens.no_speech].item<double>();
        const float* last = lg[1].data_ptr<float>();
        next_logits.emplace_back(last, last + vocab);
        rows.push_back(row_state{b, {}, static_cast<std::int64_t>(prompt.size()), logit_filter(cfg, o.timestamps),
                                 std::mt19937_64(o.seed), o.temperature,
                                 o.max_tokens > 0 ? std::min(o.max_tokens, max_new_tokens(cfg)) : max_new_tokens(cfg)});
    }

    std::vector<std::size_t> active(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) active[i] = i; // batch row i -> rows[active[i]]
    while (!active.empty()) {
        std::vector<std::size_t> still;
        std::vector<std::int64_t> keep, tokens, lens;
        for (std::size_t i = 0; i < active.size(); ++i) {
            row_state& r = rows[active[i]];
            auto& lg = next_logits[i];
            r.filter.apply(lg, r.sampled);
            const pick p = choose(lg, r.temperature, r.rng);
            auto& o = out[r.job];
            o.sum_logprob += p.logprob;
            ++o.picks;
            if (p.token == cfg.tokens.eot) continue;
            r.sampled.push_back(p.token);
            if (static_cast<std::int64_t>(r.sampled.size()) >= r.budget || r.length >= a.max_target_positions) continue;
            still.push_back(active[i]);
            keep.push_back(static_cast<std::int64_t>(i));
            tokens.push_back(p.token);
            lens.push_back(r.length);
        }
        for (std::size_t i = 0; i < active.size(); ++i)
            if (std::find(still.begin(), still.end(), active[i]) == still.end()) out[rows[active[i]].job].tokens = rows[active[i]].sampled;
        if (still.empty()) break;
        if (still.size() != active.size()) {
            const at::Tensor sel = at::tensor(keep, at::kLong).to(device_);
            cache = cache.select(sel);
            ckv = ckv.select(sel);
        }
        active = std::move(still);
        const at::Tensor t = at::tensor(tokens, at::kLong).unsqueeze(1);
        const at::Tensor lg =
            impl_->logits(impl_->step(t, lens, cache, ckv)).reshape({static_cast<std::int64_t>(active.size()), vocab}).contiguous();
        next_logits.clear();
        for (std::size_t i = 0; i < active.size(); ++i) {
            const float* p = lg[static_cast<std::int64_t>(i)].data_ptr<float>();
            next_logits.emplace_back(p, p + vocab);
            ++rows[active[i]].length;
        }
    }
    return out;
}

} // namespace tether::agent::whisper

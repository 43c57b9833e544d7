#include "backends/torch/encoder/bart_model.hpp"

#include "backends/hf/folder_error.hpp"
#include "backends/torch/lm/layers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace tether::agent::encoder {
namespace {

using lm::project;

constexpr double ln_eps = 1e-5;
constexpr float neg_inf = -std::numeric_limits<float>::infinity();
constexpr std::int64_t position_offset = 2; // BartLearnedPositionalEmbedding

using lm::attend;
using lm::heads_first;
using lm::heads_last;
using lm::linear;
using lm::norm;

using lm::attention;

struct enc_layer {
    attention attn;
    norm attn_ln, final_ln;
    linear fc1, fc2;
};

struct dec_layer {
    attention self_attn, cross_attn;
    norm self_ln, cross_ln, final_ln;
    linear fc1, fc2;
};

// A finished (or final) hypothesis of beam search.
struct hypothesis {
    double score;
    std::vector<std::int64_t> seq; // with the start token, without EOS
    bool eos;
};

// transformers' BeamHypotheses: the best num_beams finished sequences.
struct hypotheses {
    std::size_t beams;
    double length_penalty;
    bool early_stopping;
    std::vector<hypothesis> kept;
    double worst = 1e9;

    void add(std::vector<std::int64_t> seq, double sum_logprobs, bool eos) {
        const double score = sum_logprobs / std::pow(static_cast<double>(seq.size()), length_penalty);
        if (kept.size() < beams || score > worst) {
            kept.push_back({score, std::move(seq), eos});
            if (kept.size() > beams) {
                auto w = std::min_element(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.score < b.score; });
                kept.erase(w);
            }
            worst = std::min_element(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.score < b.score; })->score;
            if (kept.size() < beams) worst = std::min(worst, score);
        }
    }
    bool done(double best_sum_logprobs, std::size_t cur_len) const {
        if (kept.size() < beams) return false;
        if (early_stopping) return true;
        return worst >= best_sum_logprobs / std::pow(static_cast<double>(cur_len), length_penalty);
    }
};

} // namespace

void process_scores(std::vector<float>& lp, const std::vector<std::int64_t>& seq, const hf::bart_generation& ids,
                    const seq2seq_options& o) {
    const auto cur_len = static_cast<std::int64_t>(seq.size());
    const auto vocab = static_cast<std::int64_t>(lp.size());
    // No repeated n-grams: ban what would complete an n-gram the sequence has.
    const std::int64_t n = o.no_repeat_ngram_size;
    if (n > 0 && cur_len + 1 >= n) {
        for (std::int64_t start = 0; start + n <= cur_len; ++start) {
            bool same = true;
            for (std::int64_t k = 0; k < n - 1 && same; ++k) same = seq[static_cast<std::size_t>(start + k)] == seq[static_cast<std::size_t>(cur_len - n + 1 + k)];
            const auto banned = seq[static_cast<std::size_t>(start + n - 1)];
            if (same && banned >= 0 && banned < vocab) lp[static_cast<std::size_t>(banned)] = neg_inf;
        }
    }
    if (cur_len < o.min_length && ids.eos < vocab) lp[static_cast<std::size_t>(ids.eos)] = neg_inf;
    auto force = [&](std::int64_t id) {
        std::fill(lp.begin(), lp.end(), neg_inf);
        if (id >= 0 && id < vocab) lp[static_cast<std::size_t>(id)] = 0.0F;
    };
    if (ids.forced_bos && cur_len == 1) force(*ids.forced_bos);
    if (ids.forced_eos && cur_len == o.max_length - 1) force(*ids.forced_eos);
}

struct bart_model::impl {
    const hf::bart_config& cfg;
    at::Device device;
    at::ScalarType dtype;
    std::string stored;
    at::Tensor shared, enc_pos, dec_pos, final_bias;
    norm enc_embed_ln, dec_embed_ln;
    std::vector<enc_layer> enc;
    std::vector<dec_layer> dec;
    double embed_scale = 1.0;

    impl(const std::filesystem::path& dir, const hf::bart_config& c, const load_options& o)
        : cfg(c), device(o.device), dtype(lm::compute_dtype(dir, o.device, o.dtype)) {
        lm::lm_weights w(dir, device, dtype);
        stored = w.stored_dtype();
        load(w);
    }

    static linear take_linear(lm::lm_weights& w, const std::string& name, std::int64_t out, std::int64_t in) {
        return lm::take_linear(w, name, out, in);
    }
    norm take_norm(lm::lm_weights& w, const std::string& name) const { return lm::take_norm(w, name, cfg.d_model, ln_eps); }
    attention take_attention(lm::lm_weights& w, const std::string& name) const {
        return lm::take_attention(w, name, cfg.d_model);
    }

    void load(lm::lm_weights& w) {
        const std::string p = w.has("model.shared.weight") ? "model." : "";
        const auto d = cfg.d_model, V = cfg.vocab_size, P = cfg.max_position + position_offset;
        shared = w.take(p + "shared.weight", {V, d});
        // The encoder's and decoder's token embeddings and lm_head are tied to `shared`; stored copies must fit.
        for (const auto& tied : {p + "encoder.embed_tokens.weight", p + "decoder.embed_tokens.weight", std::string("lm_head.weight")})
            if (w.has(tied)) (void)w.take(tied, {V, d});
        enc_pos = w.take(p + "encoder.embed_positions.weight", {P, d});
        dec_pos = w.take(p + "decoder.embed_positions.weight", {P, d});
        enc_embed_ln = take_norm(w, p + "encoder.layernorm_embedding");
        dec_embed_ln = take_norm(w, p + "decoder.layernorm_embedding");
        for (std::int64_t i = 0; i < cfg.encoder_layers; ++i) {
            const std::string q = p + "encoder.layers." + std::to_string(i) + ".";
            enc.push_back({take_attention(w, q + "self_attn"), take_norm(w, q + "self_attn_layer_norm"),
                           take_norm(w, q + "final_layer_norm"), take_linear(w, q + "fc1", cfg.encoder_ffn, d),
                           take_linear(w, q + "fc2", d, cfg.encoder_ffn)});
        }
        for (std::int64_t i = 0; i < cfg.decoder_layers; ++i) {
            const std::string q = p + "decoder.layers." + std::to_string(i) + ".";
            dec.push_back({take_attention(w, q + "self_attn"), take_attention(w, q + "encoder_attn"),
                           take_norm(w, q + "self_attn_layer_norm"), take_norm(w, q + "encoder_attn_layer_norm"),
                           take_norm(w, q + "final_layer_norm"), take_linear(w, q + "fc1", cfg.decoder_ffn, d),
                           take_linear(w, q + "fc2", d, cfg.decoder_ffn)});
        }
        final_bias = w.has("final_logits_bias") ? w.take("final_logits_bias", {1, V}).to(at::kCPU, at::kFloat).reshape({V})
                                                : at::zeros({V}, at::kFloat);
        embed_scale = cfg.scale_embedding ? std::sqrt(static_cast<double>(d)) : 1.0;
    }

    at::Tensor embed(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& table, const norm& ln) const {
        at::Tensor x = shared.index_select(0, ids.reshape({-1})).view({ids.size(0), ids.size(1), cfg.d_model});
        if (embed_scale != 1.0) x = x * embed_scale;
        x = x + table.index_select(0, (positions + position_offset).reshape({-1})).view_as(x);
        return ln(x);
    }

    at::Tensor encode(const std::vector<std::int64_t>& ids) const {
        const auto S = static_cast<std::int64_t>(ids.size());
        if (S < 1 || S > cfg.max_position) throw std::runtime_error(fmt::format("{} tokens, over the model's {}", S, cfg.max_position));
        const at::Tensor t = at::tensor(ids, at::kLong).unsqueeze(0).to(device);
        at::Tensor x = embed(t, at::arange(S, at::TensorOptions().dtype(at::kLong).device(device)).unsqueeze(0), enc_pos, enc_embed_ln);
        const auto h = cfg.encoder_heads;
        const double scale = 1.0 / std::sqrt(static_cast<double>(cfg.d_model / h));
        for (const auto& l : enc) {
            const at::Tensor q = heads_first(l.attn.q(x) * scale, h), k = heads_first(l.attn.k(x), h), v = heads_first(l.attn.v(x), h);
            x = l.attn_ln(x + l.attn.out(heads_last(attend(q, k, v))));
            x = l.final_ln(x + l.fc2(lm::activate(l.fc1(x), cfg.act)));
        }
        return x;
    }

    struct kv {
        std::vector<at::Tensor> k, v; // per decoder layer, [B, heads, T, hd]
        kv select(const at::Tensor& rows) const {
            kv out;
            for (std::size_t i = 0; i < k.size(); ++i) {
                out.k.push_back(k[i].index_select(0, rows));
                out.v.push_back(v[i].index_select(0, rows));
            }
            return out;
        }
    };

    kv cross(const at::Tensor& encoded, std::int64_t rows) const {
        kv c;
        const auto h = cfg.decoder_heads;
        for (const auto& l : dec) {
            c.k.push_back(heads_first(l.cross_attn.k(encoded), h).expand({rows, h, encoded.size(1), cfg.d_model / h}));
            c.v.push_back(heads_first(l.cross_attn.v(encoded), h).expand({rows, h, encoded.size(1), cfg.d_model / h}));
        }
        return c;
    }

    // tokens [B, L] at positions past..past+L-1 (causal among themselves), the
    // cache grown by them -> logits [B, L, vocab] float32 CPU with the bias.
    at::Tensor step(const at::Tensor& tokens, std::int64_t past, kv& cache, const kv& ckv) const {
        const std::int64_t B = tokens.size(0), L = tokens.size(1), h = cfg.decoder_heads;
        const double scale = 1.0 / std::sqrt(static_cast<double>(cfg.d_model / h));
        const auto lopts = at::TensorOptions().dtype(at::kLong).device(device);
        const at::Tensor pos = (at::arange(L, lopts) + past).unsqueeze(0).expand({B, L});
        at::Tensor x = embed(tokens.to(device), pos, dec_pos, dec_embed_ln);
        at::Tensor mask;
        if (L > 1) {
            mask = at::full({L, past + L}, 0.0F, at::TensorOptions().dtype(at::kFloat).device(device));
            mask.narrow(1, past, L).copy_(at::triu(at::full({L, L}, neg_inf, mask.options()), 1));
        }
        for (std::size_t i = 0; i < dec.size(); ++i) {
            const auto& l = dec[i];
            const at::Tensor q = heads_first(l.self_attn.q(x) * scale, h);
            const at::Tensor k = heads_first(l.self_attn.k(x), h), v = heads_first(l.self_attn.v(x), h);
            if (cache.k.size() <= i) {
                cache.k.push_back(k);
                cache.v.push_back(v);
            } else {
                cache.k[i] = at::cat({cache.k[i], k}, 2);
                cache.v[i] = at::cat({cache.v[i], v}, 2);
            }
            x = l.self_ln(x + l.self_attn.out(heads_last(attend(q, cache.k[i], cache.v[i], mask))));
            const at::Tensor c = heads_first(l.cross_attn.q(x) * scale, h);
            x = l.cross_ln(x + l.cross_attn.out(heads_last(attend(c, ckv.k[i], ckv.v[i]))));
            x = l.final_ln(x + l.fc2(lm::activate(l.fc1(x), cfg.act)));
        }
        const at::Tensor logits = project(x.reshape({-1, cfg.d_model}), shared).to(at::kCPU, at::kFloat) + final_bias;
        return logits.view({B, L, cfg.vocab_size});
    }
};

bart_model::bart_model(const std::filesystem::path& dir, hf::bart_config config, const load_options& options)
    : config_(std::move(config)), device_(options.device), impl_(std::make_unique<impl>(dir, config_, options)) {}

bart_model::~bart_model() = default;

at::Tensor bart_model::encode(const std::vector<std::int64_t>& ids) const {
    at::NoGradGuard no_grad;
    return impl_->encode(ids);
}

at::Tensor bart_model::decoder_logits(const std::vector<std::int64_t>& decoder_ids, const at::Tensor& encoded) const {
    at::NoGradGuard no_grad;
    impl::kv cache;
    const auto ckv = impl_->cross(encoded, 1);
    return impl_->step(at::tensor(decoder_ids, at::kLong).unsqueeze(0), 0, cache, ckv)[0];
}

std::string bart_model::describe() const {
    const auto& c = config_;
    return fmt::format("bart, {}+{} layers, width {}, {} beam(s) by default, {} stored, computed in {} on {}", c.encoder_layers,
                       c.decoder_layers, c.d_model, c.generation.num_beams, impl_->stored, c10::toString(impl_->dtype),
                       device_.str());
}

seq2seq_output bart_model::generate(const std::vector<std::int64_t>& ids, const seq2seq_options& o,
                                    const std::function<void(std::int64_t)>& on_token, const std::function<bool()>& cancelled) const {
    at::NoGradGuard no_grad;
    const auto& g = config_.generation;
    const auto V = config_.vocab_size;
    const std::int64_t max_length = std::min(o.max_length, config_.max_position);
    seq2seq_options opts = o;
    opts.max_length = max_length;
    const at::Tensor encoded = impl_->encode(ids);
    seq2seq_output out;
    const auto nb = static_cast<std::size_t>(std::max<std::int64_t>(o.num_beams, 1));
    if (nb == 1) {
        const auto ckv = impl_->cross(encoded, 1);
        impl::kv cache;
        std::vector<std::int64_t> seq{g.decoder_start};
        out.finish_reason = "length";
        while (static_cast<std::int64_t>(seq.size()) < max_length) {
            if (cancelled && cancelled()) {
                out.finish_reason = "cancelled";
                break;
            }
            const at::Tensor logits = impl_->step(at::full({1, 1}, seq.back(), at::kLong), static_cast<std::int64_t>(seq.size()) - 1,
                                                  cache, ckv)[0][0];
            const at::Tensor lp = at::log_softmax(logits, -1).contiguous();
            std::vector<float> row(lp.data_ptr<float>(), lp.data_ptr<float>() + V);
            process_scores(row, seq, g, opts);
            const auto next = static_cast<std::int64_t>(std::max_element(row.begin(), row.end()) - row.begin());
            seq.push_back(next);
            out.tokens.push_back(next);
            if (on_token) on_token(next);
            if (next == g.eos) {
                out.finish_reason = "stop";
                break;
            }
        }
        return out;
    }
    // Beam search, as transformers' BeamSearchScorer does it for one input.
    const auto B = static_cast<std::int64_t>(nb);
    const auto ckv = impl_->cross(encoded, B);
    impl::kv cache;
    std::vector<std::vector<std::int64_t>> seqs(nb, std::vector<std::int64_t>{g.decoder_start});
    std::vector<double> beam_scores(nb, -1e9);
    beam_scores[0] = 0;
    hypotheses finished{nb, o.length_penalty, o.early_stopping, {}, 1e9};
    bool done = false;
    while (static_cast<std::int64_t>(seqs[0].size()) < max_length) {
        if (cancelled && cancelled()) {
            out.finish_reason = "cancelled";
            return out;
        }
        const auto cur_len = seqs[0].size();
        std::vector<std::int64_t> last;
        for (const auto& s : seqs) last.push_back(s.back());
        const at::Tensor logits =
            impl_->step(at::tensor(last, at::kLong).unsqueeze(1), static_cast<std::int64_t>(cur_len) - 1, cache, ckv).select(1, 0);
        at::Tensor lp = at::log_softmax(logits, -1).contiguous();
        float* rows = lp.data_ptr<float>();
        for (std::size_t b = 0; b < nb; ++b) {
            std::vector<float> row(rows + b * V, rows + (b + 1) * V);
            process_scores(row, seqs[b], g, opts);
            for (std::int64_t t = 0; t < V; ++t) rows[b * V + t] = static_cast<float>(row[static_cast<std::size_t>(t)] + beam_scores[b]);
        }
        const auto top = at::topk(lp.view({-1}), 2 * B, -1, true, true);
        const at::Tensor values = std::get<0>(top).contiguous(), indices = std::get<1>(top).contiguous();
        std::vector<std::vector<std::int64_t>> next_seqs;
        std::vector<double> next_scores;
        std::vector<std::int64_t> origin;
        for (std::int64_t r = 0; r < 2 * B && next_seqs.size() < nb; ++r) {
            const auto idx = indices[r].item<std::int64_t>();
            const double score = values[r].item<float>();
            const auto beam = static_cast<std::size_t>(idx / V);
            const auto token = idx % V;
            if (token == g.eos) {
                if (r >= B) continue; // an EOS outside the top num_beams is not a hypothesis
                finished.add(seqs[beam], score, true);
                continue;
            }
            auto s = seqs[beam];
            s.push_back(token);
            next_seqs.push_back(std::move(s));
            next_scores.push_back(score);
            origin.push_back(static_cast<std::int64_t>(beam));
        }
        if (next_seqs.size() < nb) throw std::runtime_error("beam search ran out of candidates");
        if (finished.done(values[0].item<float>(), cur_len)) {
            done = true;
            break;
        }
        cache = cache.select(at::tensor(origin, at::kLong).to(device_));
        seqs = std::move(next_seqs);
        beam_scores = std::move(next_scores);
    }
    if (!done)
        for (std::size_t b = 0; b < nb; ++b) finished.add(seqs[b], beam_scores[b], false);
    const auto best = std::max_element(finished.kept.begin(), finished.kept.end(),
                                       [](const auto& a, const auto& b) { return a.score < b.score; });
    out.tokens.assign(best->seq.begin() + 1, best->seq.end());
    if (best->eos) out.tokens.push_back(g.eos);
    out.finish_reason = best->eos ? "stop" : "length";
    return out;
}

} // namespace tether::agent::encoder

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

    // Inputs (padded with the pad id, the padding masked as keys) -> encoder
    // states [N, S, d], S the longest input.
    at::Tensor encode(const std::vector<std::vector<std::int64_t>>& inputs) const {
        const auto N = static_cast<std::int64_t>(inputs.size());
        std::int64_t S = 0;
        for (const auto& ids : inputs) {
            const auto n = static_cast<std::int64_t>(ids.size());
            if (n < 1 || n > cfg.max_position) throw std::runtime_error(fmt::format("{} tokens, over the model's {}", n, cfg.max_position));
            S = std::max(S, n);
        }
        std::vector<std::int64_t> flat(static_cast<std::size_t>(N * S), cfg.generation.pad);
        at::Tensor mask;
        for (std::int64_t i = 0; i < N; ++i) {
            const auto& ids = inputs[static_cast<std::size_t>(i)];
            std::copy(ids.begin(), ids.end(), flat.begin() + i * S);
            const auto n = static_cast<std::int64_t>(ids.size());
            if (n == S) continue;
            if (!mask.defined()) mask = at::zeros({N, 1, 1, S}, at::kFloat);
            mask[i].narrow(-1, n, S - n).fill_(neg_inf);
        }
        if (mask.defined()) mask = mask.to(device);
        const at::Tensor t = at::tensor(flat, at::kLong).view({N, S}).to(device);
        const auto pos = at::arange(S, at::TensorOptions().dtype(at::kLong).device(device)).unsqueeze(0).expand({N, S});
        at::Tensor x = embed(t, pos, enc_pos, enc_embed_ln);
        const auto h = cfg.encoder_heads;
        const double scale = 1.0 / std::sqrt(static_cast<double>(cfg.d_model / h));
        for (const auto& l : enc) {
            const at::Tensor q = heads_first(l.attn.q(x) * scale, h), k = heads_first(l.attn.k(x), h), v = heads_first(l.attn.v(x), h);
            x = l.attn_ln(x + l.attn.out(heads_last(attend(q, k, v, mask))));
            x = l.final_ln(x + l.fc2(lm::activate(l.fc1(x), cfg.act)));
        }
        return x;
    }

    // Each decoder layer's cross-attention keys and values of encoder states
    // [N, S, d], for row i its first lengths[i] positions: [1, heads, len, hd].
    void cross(const at::Tensor& encoded, const std::vector<std::int64_t>& lengths,
               const std::vector<bart_sequence::state*>& into) const;

    // One decoder step: each row of each sequence feeds its last token at its
    // position; the sequences' caches grow by it. -> logits [rows, vocab],
    // float32 on the CPU, with the bias.
    at::Tensor forward(const std::vector<bart_sequence::state*>& seqs) const;
};

struct bart_sequence::state {
    seq2seq_options o;              // max_length within the model's positions
    std::vector<at::Tensor> ck, cv; // per decoder layer, [1, heads, S, hd]
    std::vector<at::Tensor> k, v;   // per decoder layer, [rows, heads, T, hd]; empty before the first step
    std::vector<std::vector<std::int64_t>> seqs; // per row, the start token first
    std::vector<double> beam_scores;
    hypotheses finished;
    std::optional<std::int64_t> chosen;
    seq2seq_output out;
    bool done = false;

    std::size_t rows() const { return seqs.size(); }
    bool greedy() const { return o.num_beams <= 1; }

    void finish_from_hypotheses(std::int64_t eos) {
        const auto best = std::max_element(finished.kept.begin(), finished.kept.end(),
                                           [](const auto& a, const auto& b) { return a.score < b.score; });
        out.tokens.assign(best->seq.begin() + 1, best->seq.end());
        if (best->eos) out.tokens.push_back(eos);
        out.finish_reason = best->eos ? "stop" : "length";
        done = true;
    }

    // Takes the log-probabilities of this sequence's rows ([rows, V], float,
    // contiguous, on the CPU; changed in place) from the step just run and
    // chooses. Returns the row each new beam continues when the cache must be
    // reordered, else nothing.
    std::vector<std::int64_t> advance(float* lp, std::int64_t V, const hf::bart_generation& g) {
        if (greedy()) {
            std::vector<float> row(lp, lp + V);
            process_scores(row, seqs[0], g, o);
            const auto next = static_cast<std::int64_t>(std::max_element(row.begin(), row.end()) - row.begin());
            seqs[0].push_back(next);
            out.tokens.push_back(next);
            chosen = next;
            if (next == g.eos) out.finish_reason = "stop", done = true;
            else if (static_cast<std::int64_t>(seqs[0].size()) >= o.max_length) out.finish_reason = "length", done = true;
            return {};
        }
        // Beam search, as transformers' BeamSearchScorer does it for one input.
        const auto nb = rows();
        const auto B = static_cast<std::int64_t>(nb);
        const auto cur_len = seqs[0].size();
        for (std::size_t b = 0; b < nb; ++b) {
            float* r = lp + static_cast<std::int64_t>(b) * V;
            std::vector<float> row(r, r + V);
            process_scores(row, seqs[b], g, o);
            for (std::int64_t t = 0; t < V; ++t) r[t] = static_cast<float>(row[static_cast<std::size_t>(t)] + beam_scores[b]);
        }
        const auto top = at::topk(at::from_blob(lp, {B * V}, at::kFloat), 2 * B, -1, true, true);
        const at::Tensor values = std::get<0>(top).contiguous(), indices = std::get<1>(top).contiguous();
        const float* val = values.data_ptr<float>();
        const std::int64_t* idx = indices.data_ptr<std::int64_t>();
        std::vector<std::vector<std::int64_t>> next_seqs;
        std::vector<double> next_scores;
        std::vector<std::int64_t> origin;
        for (std::int64_t r = 0; r < 2 * B && next_seqs.size() < nb; ++r) {
            const auto beam = static_cast<std::size_t>(idx[r] / V);
            const auto token = idx[r] % V;
            if (token == g.eos) {
                if (r >= B) continue; // an EOS outside the top num_beams is not a hypothesis
                finished.add(seqs[beam], val[r], true);
                continue;
            }
            auto s = seqs[beam];
            s.push_back(token);
            next_seqs.push_back(std::move(s));
            next_scores.push_back(val[r]);
            origin.push_back(static_cast<std::int64_t>(beam));
        }
        if (next_seqs.size() < nb) throw std::runtime_error("beam search ran out of candidates");
        if (finished.done(val[0], cur_len)) {
            finish_from_hypotheses(g.eos);
            return {};
        }
        seqs = std::move(next_seqs);
        beam_scores = std::move(next_scores);
        if (static_cast<std::int64_t>(seqs[0].size()) >= o.max_length) {
            for (std::size_t b = 0; b < nb; ++b) finished.add(seqs[b], beam_scores[b], false);
            finish_from_hypotheses(g.eos);
            return {};
        }
        return origin;
    }
};

void bart_model::impl::cross(const at::Tensor& encoded, const std::vector<std::int64_t>& lengths,
                             const std::vector<bart_sequence::state*>& into) const {
    const auto h = cfg.decoder_heads;
    for (const auto& l : dec) {
        const at::Tensor k = heads_first(l.cross_attn.k(encoded), h), v = heads_first(l.cross_attn.v(encoded), h);
        for (std::size_t i = 0; i < into.size(); ++i) {
            const auto row = static_cast<std::int64_t>(i);
            into[i]->ck.push_back(k.narrow(0, row, 1).narrow(2, 0, lengths[i]));
            into[i]->cv.push_back(v.narrow(0, row, 1).narrow(2, 0, lengths[i]));
        }
    }
}

at::Tensor bart_model::impl::forward(const std::vector<bart_sequence::state*>& seqs) const {
    std::vector<std::int64_t> tokens, positions;
    for (const auto* s : seqs)
        for (const auto& row : s->seqs) {
            tokens.push_back(row.back());
            positions.push_back(static_cast<std::int64_t>(row.size()) - 1);
        }
    const auto R = static_cast<std::int64_t>(tokens.size());
    const std::int64_t h = cfg.decoder_heads;
    const double scale = 1.0 / std::sqrt(static_cast<double>(cfg.d_model / h));
    at::Tensor x = embed(at::tensor(tokens, at::kLong).view({R, 1}).to(device),
                         at::tensor(positions, at::kLong).view({R, 1}).to(device), dec_pos, dec_embed_ln);
    // Attention of each sequence's rows over its own keys and values.
    auto per_sequence = [&](const at::Tensor& q, auto&& keys_values) {
        std::vector<at::Tensor> parts;
        std::int64_t at_row = 0;
        for (auto* s : seqs) {
            const auto n = static_cast<std::int64_t>(s->rows());
            const auto [k, v] = keys_values(*s, at_row, n);
            parts.push_back(attend(q.narrow(0, at_row, n), k, v));
            at_row += n;
        }
        return parts.size() == 1 ? parts[0] : at::cat(parts, 0);
    };
    for (std::size_t i = 0; i < dec.size(); ++i) {
        const auto& l = dec[i];
        const at::Tensor q = heads_first(l.self_attn.q(x) * scale, h);
        const at::Tensor k = heads_first(l.self_attn.k(x), h), v = heads_first(l.self_attn.v(x), h);
        const at::Tensor self = per_sequence(q, [&](bart_sequence::state& s, std::int64_t row, std::int64_t n) {
            if (s.k.size() <= i) {
                s.k.push_back(k.narrow(0, row, n).contiguous());
                s.v.push_back(v.narrow(0, row, n).contiguous());
            } else {
                s.k[i] = at::cat({s.k[i], k.narrow(0, row, n)}, 2);
                s.v[i] = at::cat({s.v[i], v.narrow(0, row, n)}, 2);
            }
            return std::pair{s.k[i], s.v[i]};
        });
        x = l.self_ln(x + l.self_attn.out(heads_last(self)));
        const at::Tensor c = heads_first(l.cross_attn.q(x) * scale, h);
        const at::Tensor crossed = per_sequence(c, [&](bart_sequence::state& s, std::int64_t, std::int64_t n) {
            return std::pair{s.ck[i].expand({n, -1, -1, -1}), s.cv[i].expand({n, -1, -1, -1})};
        });
        x = l.cross_ln(x + l.cross_attn.out(heads_last(crossed)));
        x = l.final_ln(x + l.fc2(lm::activate(l.fc1(x), cfg.act)));
    }
    return project(x.reshape({R, cfg.d_model}), shared).to(at::kCPU, at::kFloat) + final_bias;
}

bart_sequence::bart_sequence(std::unique_ptr<state> s) : s_(std::move(s)) {}
bart_sequence::~bart_sequence() = default;
bool bart_sequence::done() const { return s_->done; }
std::size_t bart_sequence::rows() const { return s_->rows(); }
std::optional<std::int64_t> bart_sequence::chosen() const { return s_->chosen; }
const seq2seq_output& bart_sequence::result() const { return s_->out; }

bart_model::bart_model(const std::filesystem::path& dir, hf::bart_config config, const load_options& options)
    : config_(std::move(config)), device_(options.device), impl_(std::make_unique<impl>(dir, config_, options)) {}

bart_model::~bart_model() = default;

at::Tensor bart_model::encode(const std::vector<std::int64_t>& ids) const {
    at::NoGradGuard no_grad;
    return impl_->encode({ids});
}

at::Tensor bart_model::decoder_logits(const std::vector<std::int64_t>& decoder_ids, const at::Tensor& encoded) const {
    at::NoGradGuard no_grad;
    bart_sequence::state s;
    impl_->cross(encoded, {encoded.size(1)}, {&s});
    s.seqs.emplace_back();
    std::vector<at::Tensor> rows;
    for (auto id : decoder_ids) {
        s.seqs[0].push_back(id);
        rows.push_back(impl_->forward({&s}));
    }
    return at::cat(rows, 0);
}

std::string bart_model::describe() const {
    const auto& c = config_;
    return fmt::format("bart, {}+{} layers, width {}, {} beam(s) by default, {} stored, computed in {} on {}", c.encoder_layers,
                       c.decoder_layers, c.d_model, c.generation.num_beams, impl_->stored, c10::toString(impl_->dtype),
                       device_.str());
}

std::vector<std::unique_ptr<bart_sequence>> bart_model::start(const std::vector<std::vector<std::int64_t>>& inputs,
                                                              const std::vector<seq2seq_options>& options) const {
    if (inputs.size() != options.size()) throw std::invalid_argument("bart_model::start: one options per input");
    at::NoGradGuard no_grad;
    std::vector<std::unique_ptr<bart_sequence>> out;
    if (inputs.empty()) return out;
    const at::Tensor encoded = impl_->encode(inputs);
    std::vector<bart_sequence::state*> states;
    std::vector<std::int64_t> lengths;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        auto st = std::make_unique<bart_sequence::state>();
        st->o = options[i];
        st->o.max_length = std::min(st->o.max_length, config_.max_position);
        const auto nb = static_cast<std::size_t>(std::max<std::int64_t>(st->o.num_beams, 1));
        st->seqs.assign(nb, std::vector<std::int64_t>{config_.generation.decoder_start});
        st->beam_scores.assign(nb, -1e9);
        st->beam_scores[0] = 0;
        st->finished = hypotheses{nb, st->o.length_penalty, st->o.early_stopping, {}, 1e9};
        if (st->o.max_length <= 1) st->out.finish_reason = "length", st->done = true;
        states.push_back(st.get());
        lengths.push_back(static_cast<std::int64_t>(inputs[i].size()));
        out.push_back(std::make_unique<bart_sequence>(std::move(st)));
    }
    impl_->cross(encoded, lengths, states);
    return out;
}

void bart_model::step(const std::vector<bart_sequence*>& sequences) const {
    at::NoGradGuard no_grad;
    std::vector<bart_sequence::state*> states;
    for (auto* s : sequences) {
        if (s->done()) throw std::invalid_argument("bart_model::step: a sequence that is done");
        states.push_back(&s->get());
    }
    if (states.empty()) return;
    const auto V = config_.vocab_size;
    at::Tensor lp = at::log_softmax(impl_->forward(states), -1).contiguous();
    float* rows = lp.data_ptr<float>();
    for (auto* s : states) {
        const auto n = static_cast<std::int64_t>(s->rows());
        const auto origin = s->advance(rows, V, config_.generation);
        rows += n * V;
        if (origin.empty() || s->done) continue;
        const at::Tensor idx = at::tensor(origin, at::kLong).to(device_);
        for (std::size_t i = 0; i < s->k.size(); ++i) {
            s->k[i] = s->k[i].index_select(0, idx);
            s->v[i] = s->v[i].index_select(0, idx);
        }
    }
}

seq2seq_output bart_model::generate(const std::vector<std::int64_t>& ids, const seq2seq_options& o,
                                    const std::function<void(std::int64_t)>& on_token, const std::function<bool()>& cancelled) const {
    auto started = start({ids}, {o});
    auto& s = *started.front();
    while (!s.done()) {
        if (cancelled && cancelled()) {
            seq2seq_output out;
            out.finish_reason = "cancelled";
            if (s.get().greedy()) out.tokens = s.result().tokens;
            return out;
        }
        step({&s});
        if (on_token && s.chosen()) on_token(*s.chosen());
    }
    return s.result();
}

} // namespace tether::agent::encoder

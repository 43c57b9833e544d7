#include "backends/model/whisper_decoding.hpp"

#include "backends/model/log_mel.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tether::agent::whisper {
namespace {

constexpr float minus_inf = -std::numeric_limits<float>::infinity();

void mask(std::span<float> logits, std::int64_t from, std::int64_t to) {
    from = std::max<std::int64_t>(from, 0);
    to = std::min<std::int64_t>(to, static_cast<std::int64_t>(logits.size()));
    for (std::int64_t i = from; i < to; ++i) logits[static_cast<std::size_t>(i)] = minus_inf;
}

double log_sum_exp(std::span<const float> x) {
    float top = minus_inf;
    for (float v : x) top = std::max(top, v);
    if (top == minus_inf) return -std::numeric_limits<double>::infinity();
    double sum = 0.0;
    for (float v : x) sum += std::exp(static_cast<double>(v) - top);
    return top + std::log(sum);
}

} // namespace

std::int64_t max_new_tokens(const hf::whisper_config& cfg) { return cfg.arch.max_target_positions / 2; }

std::vector<std::int64_t> decoder_prompt(const hf::whisper_config& cfg, std::span<const std::int64_t> previous,
                                         std::int64_t language, const decode_options& options) {
    const auto& t = cfg.tokens;
    std::vector<std::int64_t> p;
    const auto keep = static_cast<std::size_t>(std::max<std::int64_t>(cfg.arch.max_target_positions / 2 - 1, 0));
    if (!previous.empty() && t.sot_prev >= 0) {
        p.push_back(t.sot_prev);
        const auto from = previous.size() > keep ? previous.size() - keep : 0;
        p.insert(p.end(), previous.begin() + static_cast<std::ptrdiff_t>(from), previous.end());
    }
    p.push_back(t.sot);
    if (cfg.generation.is_multilingual) {
        p.push_back(language);
        p.push_back(options.translate ? *t.translate : *t.transcribe);
    }
    if (!options.timestamps) p.push_back(t.no_timestamps);
    return p;
}

logit_filter::logit_filter(const hf::whisper_config& cfg, bool timestamps)
    : tokens_(cfg.tokens), suppress_(cfg.generation.suppress_tokens), begin_suppress_(cfg.generation.begin_suppress_tokens),
      timestamps_(timestamps), max_initial_(cfg.generation.max_initial_timestamp_index) {
    // The special tokens that never belong in a transcript, as OpenAI adds them.
    for (auto id : {std::optional<std::int64_t>(tokens_.sot), std::optional<std::int64_t>(tokens_.sot_prev),
                    std::optional<std::int64_t>(tokens_.no_speech), tokens_.sot_lm, tokens_.transcribe, tokens_.translate})
        if (id && *id >= 0) suppress_.push_back(*id);
}

void logit_filter::apply(std::span<float> logits, std::span<const std::int64_t> sampled) const {
    const auto vocab = static_cast<std::int64_t>(logits.size());
    for (auto id : suppress_)
        if (id < vocab) logits[static_cast<std::size_t>(id)] = minus_inf;
    if (sampled.empty())
        for (auto id : begin_suppress_)
            if (id < vocab) logits[static_cast<std::size_t>(id)] = minus_inf;
    const std::int64_t ts = tokens_.timestamp_begin;
    if (tokens_.no_timestamps < vocab) logits[static_cast<std::size_t>(tokens_.no_timestamps)] = minus_inf;
    if (!timestamps_) {
        mask(logits, ts, vocab);
        return;
    }
    const std::size_t n = sampled.size();
    const bool last_ts = n >= 1 && sampled[n - 1] >= ts;
    const bool penultimate_ts = n < 2 || sampled[n - 2] >= ts;
    if (last_ts) {
        if (penultimate_ts) mask(logits, ts, vocab);      // a pair is closed: text next
        else mask(logits, 0, tokens_.eot);                 // a segment's end: a timestamp or the end
    }
    std::optional<std::int64_t> last_timestamp;
    for (std::size_t i = n; i-- > 0;)
        if (sampled[i] >= ts) {
            last_timestamp = sampled[i];
            break;
        }
    if (last_timestamp) {
        // Timestamps never go back; after text they move forward.
        const std::int64_t floor = last_ts && !penultimate_ts ? *last_timestamp : *last_timestamp + 1;
        mask(logits, ts, floor);
    }
    if (n == 0) {
        mask(logits, 0, ts); // the window opens with a timestamp
        mask(logits, ts + max_initial_ + 1, vocab);
    }
    // When the timestamps together are likelier than any text token, take one.
    const double ts_mass = log_sum_exp(logits.subspan(static_cast<std::size_t>(std::min(ts, vocab))));
    float text_max = minus_inf;
    for (std::int64_t i = 0; i < std::min(ts, vocab); ++i) text_max = std::max(text_max, logits[static_cast<std::size_t>(i)]);
    if (ts_mass > static_cast<double>(text_max)) mask(logits, 0, ts);
}

pick choose(std::span<const float> filtered, float temperature, std::mt19937_64& rng) {
    const double lse = log_sum_exp(filtered);
    std::size_t best = 0;
    if (temperature <= 0.0F) {
        for (std::size_t i = 1; i < filtered.size(); ++i)
            if (filtered[i] > filtered[best]) best = i;
    } else {
        // Gumbel-max: argmax(logit / T + Gumbel noise) draws from softmax(logit / T).
        std::uniform_real_distribution<double> u(std::numeric_limits<double>::min(), 1.0);
        double top = -std::numeric_limits<double>::infinity();
        for (std::size_t i = 0; i < filtered.size(); ++i) {
            if (filtered[i] == minus_inf) continue;
            const double g = static_cast<double>(filtered[i]) / temperature - std::log(-std::log(u(rng)));
            if (g > top) top = g, best = i;
        }
    }
    return {static_cast<std::int64_t>(best), static_cast<float>(static_cast<double>(filtered[best]) - lse)};
}

std::int64_t detect_language(const hf::whisper_tokens& tokens, std::span<const float> logits) {
    std::int64_t best = tokens.language_ids.empty() ? -1 : tokens.language_ids.front();
    for (auto id : tokens.language_ids)
        if (id < static_cast<std::int64_t>(logits.size()) &&
            logits[static_cast<std::size_t>(id)] > logits[static_cast<std::size_t>(best)])
            best = id;
    return best;
}

window_split split_window(std::span<const std::int64_t> tokens, const hf::whisper_tokens& t, std::int64_t content_frames,
                          std::uint32_t hop_length, std::uint32_t sample_rate, bool timestamps) {
    window_split out;
    const double frame_s = static_cast<double>(hop_length) / sample_rate;
    const double precision = 2 * frame_s; // one timestamp step: the encoder's stride of two frames (0.02 s)
    const double window_s = static_cast<double>(content_frames) * frame_s;
    auto is_ts = [&](std::size_t i) { return tokens[i] >= t.timestamp_begin; };
    auto ts_of = [&](std::size_t i) { return static_cast<double>(tokens[i] - t.timestamp_begin); };
    const std::size_t n = tokens.size();
    out.advance_frames = content_frames;
    if (!timestamps) {
        if (n > 0) out.segments.push_back({0.0, window_s, {tokens.begin(), tokens.end()}});
        return out;
    }
    std::vector<std::size_t> cuts; // where a pair of timestamps splits the tokens
    for (std::size_t i = 1; i < n; ++i)
        if (is_ts(i - 1) && is_ts(i)) cuts.push_back(i);
    const bool single_ending = n >= 2 && !is_ts(n - 2) && is_ts(n - 1);
    if (!cuts.empty()) {
        if (single_ending) cuts.push_back(n);
        std::size_t from = 0;
        for (std::size_t cut : cuts) {
            // A slice ends on a timestamp; the first may open without one (the
            // decoding rules never allow it, but the tokens are the model's).
            const double start = is_ts(from) ? ts_of(from) * precision : 0.0;
            token_segment s{start, std::max(start, ts_of(cut - 1) * precision), {tokens.begin() + static_cast<std::ptrdiff_t>(from),
                                                                            tokens.begin() + static_cast<std::ptrdiff_t>(cut)}};
            out.segments.push_back(std::move(s));
            from = cut;
        }
        if (!single_ending) {
            // The tokens after the last pair are unfinished: the next window starts there.
            const auto last = static_cast<std::int64_t>(ts_of(from - 1));
            const std::int64_t advance = last * 2;
            if (advance > 0) out.advance_frames = std::min(advance, content_frames);
        }
        return out;
    }
    double end = window_s;
    for (std::size_t i = n; i-- > 0;)
        if (is_ts(i)) {
            if (tokens[i] != t.timestamp_begin) end = ts_of(i) * precision;
            break;
        }
    if (n > 0) out.segments.push_back({0.0, end, {tokens.begin(), tokens.end()}});
    return out;
}

double compression_ratio(std::string_view text) {
    if (text.empty()) return 0.0;
    uLongf size = compressBound(static_cast<uLong>(text.size()));
    std::vector<Bytef> out(size);
    if (compress2(out.data(), &size, reinterpret_cast<const Bytef*>(text.data()), static_cast<uLong>(text.size()), 6) != Z_OK ||
        size == 0)
        return 0.0;
    return static_cast<double>(text.size()) / static_cast<double>(size);
}

std::string transcript::text() const {
    std::string out;
    for (const auto& s : segments) out += s.text;
    return out;
}

transcript transcribe(std::span<const float> samples, const hf::whisper_config& cfg, const decode_options& options,
                      std::span<const std::int64_t> prompt, const transcribe_hooks& hooks) {
    const auto& fe = cfg.frontend;
    log_mel_config mel_cfg;
    mel_cfg.sample_rate = fe.sampling_rate;
    mel_cfg.n_fft = fe.n_fft;
    mel_cfg.hop_length = fe.hop_length;
    mel_cfg.n_mels = fe.feature_size;
    mel_cfg.chunk_seconds = fe.chunk_length;
    mel_cfg.filters = fe.mel_filters.empty() ? slaney_mel_filters(fe.feature_size, fe.n_fft, fe.sampling_rate)
                                             : fe.mel_filters;
    const std::int64_t window_frames = mel_cfg.n_frames();
    const std::int64_t hop = fe.hop_length;
    const std::int64_t content_frames = (static_cast<std::int64_t>(samples.size()) + hop - 1) / hop;
    transcript out;
    out.duration = static_cast<double>(samples.size()) / fe.sampling_rate;
    decode_options opts = options;
    if (opts.language) out.language = cfg.tokens.language_code(*opts.language);
    std::vector<std::int64_t> previous(prompt.begin(), prompt.end());
    std::int64_t seek = 0;
    while (seek < content_frames) {
        if (hooks.cancelled && hooks.cancelled()) break;
        const std::int64_t size = std::min(window_frames, content_frames - seek);
        const auto first = static_cast<std::size_t>(seek * hop);
        const auto count = std::min<std::size_t>(samples.size() - first, static_cast<std::size_t>(size * hop));
        const auto slice = samples.subspan(first, count);
        const double offset = static_cast<double>(seek * hop) / fe.sampling_rate;
        ++out.windows;
        float peak = 0.0F;
        for (float s : slice) peak = std::max(peak, std::fabs(s));
        if (peak < silence_peak) {
            ++out.windows_skipped;
            seek += size;
            continue;
        }
        window_job job{whisper_log_mel(slice, mel_cfg), previous, opts};
        window_output w = hooks.decode(std::move(job));
        if (!opts.language && cfg.generation.is_multilingual && w.language >= 0) {
            opts.language = w.language;
            out.language = cfg.tokens.language_code(w.language);
        }
        // Only the first window sees the caller's prompt (transformers'
        // "first-segment"): conditioning on earlier output lets one
        // hallucination repeat through the rest.
        previous.clear();
        if (w.no_speech_prob > no_speech_threshold && w.avg_logprob() < logprob_threshold) {
            ++out.windows_skipped;
            seek += size;
            continue;
        }
        auto split = split_window(w.tokens, cfg.tokens, size, fe.hop_length, fe.sampling_rate, opts.timestamps);
        for (auto& ts : split.segments) {
            std::vector<std::int64_t> text_ids;
            for (auto id : ts.tokens)
                if (id < cfg.tokens.eot) text_ids.push_back(id);
            segment s;
            s.id = out.segments.size();
            s.seek = seek;
            s.start = std::min(offset + ts.start, out.duration);
            s.end = std::min(std::max(offset + ts.end, s.start), out.duration);
            s.text = hooks.detokenize(text_ids);
            s.tokens = std::move(ts.tokens);
            s.avg_logprob = w.avg_logprob();
            s.no_speech_prob = w.no_speech_prob;
            if (hooks.on_segment) hooks.on_segment(s);
            out.segments.push_back(std::move(s));
        }
        seek += std::max<std::int64_t>(split.advance_frames, 1);
    }
    return out;
}

} // namespace tether::agent::whisper

#pragma once
// Whisper's decoding rules and its long-form loop, torch-free: the decoder
// prompt, the logit filters (suppressed tokens, the timestamp rules OpenAI's
// whisper and transformers apply), greedy or sampled picks, the split of a
// window's tokens into timed segments and where the next window starts. The
// model itself is a callback (decode one or more windows), so that the torch
// side only runs tensors.

#include "backends/hf/whisper_config.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <span>
#include <string_view>
#include <string>
#include <vector>

namespace tether::agent::whisper {

// What a request asks of the decoder.
struct decode_options {
    std::optional<std::int64_t> language; // a language token; nullopt: detected on the first window
    bool translate = false;
    bool timestamps = true;
    float temperature = 0.0F; // 0: greedy
    std::uint64_t seed = 0;
    std::int64_t max_tokens = 0; // picks per window; 0: max_new_tokens()
};

// The decoder prompt: [<|startofprev|> previous…] <|startoftranscript|>
// [language] [task] [<|notimestamps|>] (language and task for multilingual
// models only). `previous` is cut from its front to max_target_positions / 2 - 1.
std::vector<std::int64_t> decoder_prompt(const hf::whisper_config& cfg, std::span<const std::int64_t> previous,
                                         std::int64_t language, const decode_options& options);
// The new tokens a window may have: max_target_positions / 2 (OpenAI's sample_len).
std::int64_t max_new_tokens(const hf::whisper_config& cfg);

// The logit filters of one row, in place: suppress_tokens and the special
// tokens that are never text; begin_suppress_tokens on the first pick; with
// timestamps the timestamp rules (pairs, never decreasing, the first one
// within max_initial_timestamp_index, a timestamp forced when their total
// probability beats every text token); without, no timestamp token at all.
class logit_filter {
  public:
    logit_filter(const hf::whisper_config& cfg, bool timestamps);
    // `sampled`: the tokens picked so far in this window (after the prompt).
    void apply(std::span<float> logits, std::span<const std::int64_t> sampled) const;

  private:
    const hf::whisper_tokens& tokens_;
    std::vector<std::int64_t> suppress_, begin_suppress_;
    bool timestamps_;
    std::int64_t max_initial_;
};

struct pick {
    std::int64_t token = 0;
    float logprob = 0.0F; // log-softmax of the filtered logits at the token
};
// Greedy (argmax, the lowest id on ties) when temperature is 0, else a draw
// from softmax(logits / temperature).
pick choose(std::span<const float> filtered, float temperature, std::mt19937_64& rng);
// The language token with the highest logit (language detection at <|startoftranscript|>).
std::int64_t detect_language(const hf::whisper_tokens& tokens, std::span<const float> logits);

// One window for the model: features, the text before it, the options.
struct window_job {
    std::vector<float> mel; // n_mels x (2 * max_source_positions), row-major
    std::vector<std::int64_t> previous;
    decode_options options;
};
// What the model decoded of it.
struct window_output {
    std::int64_t language = -1;
    std::vector<std::int64_t> tokens; // picked, without the final <|endoftext|>
    double sum_logprob = 0.0;         // over every pick, <|endoftext|> included
    std::size_t picks = 0;
    double no_speech_prob = 0.0;      // softmax at <|startoftranscript|>, of <|nospeech|>
    double avg_logprob() const { return picks == 0 ? 0.0 : sum_logprob / static_cast<double>(picks); }
};

// A timed run of a window's tokens.
struct token_segment {
    double start = 0.0, end = 0.0; // seconds from the window's start
    std::vector<std::int64_t> tokens;
};
struct window_split {
    std::vector<token_segment> segments;
    std::int64_t advance_frames = 0; // where the next window starts, from this one's
};
// OpenAI's rule: segments between consecutive timestamp pairs; seek to the
// last pair's time, or past the window when it ends on a single timestamp
// (or has no pair). `content_frames`: the frames of audio in this window.
window_split split_window(std::span<const std::int64_t> tokens, const hf::whisper_tokens& t, std::int64_t content_frames,
                          std::uint32_t hop_length, std::uint32_t sample_rate, bool timestamps);

struct segment {
    std::size_t id = 0;
    std::int64_t seek = 0;         // the frame its window starts at (10 ms each)
    double start = 0.0, end = 0.0; // seconds from the audio's start
    std::string text;
    std::vector<std::int64_t> tokens;
    double avg_logprob = 0.0, no_speech_prob = 0.0;
};

struct transcript {
    std::string language; // its code ("en"), "" for a model with one language
    double duration = 0.0;
    std::vector<segment> segments;
    std::size_t windows = 0, windows_skipped = 0;
    std::string text() const;
};

struct transcribe_hooks {
    // Runs the model on one window (blocking; may batch with other requests).
    std::function<window_output(window_job)> decode;
    std::function<std::string(std::span<const std::int64_t>)> detokenize;
    std::function<void(const segment&)> on_segment;   // as each segment is final
    std::function<bool()> cancelled;
};

// OpenAI's compression_ratio of a segment's text: its UTF-8 bytes over their
// zlib-compressed size (level 6); high values mean repetition.
double compression_ratio(std::string_view text);

// Peak amplitude under which a window counts as silence and is not decoded
// (about -60 dBFS): silence otherwise makes Whisper invent text.
inline constexpr float silence_peak = 1e-3F;
// OpenAI's gate on a decoded window: skipped when no_speech_prob is above
// this and avg_logprob below -1.
inline constexpr double no_speech_threshold = 0.6;
inline constexpr double logprob_threshold = -1.0;

// Transcribes 16 kHz mono `samples` window after window. `prompt`: tokens of
// the caller's initial prompt (conditioning the first window).
transcript transcribe(std::span<const float> samples, const hf::whisper_config& cfg, const decode_options& options,
                      std::span<const std::int64_t> prompt, const transcribe_hooks& hooks);

} // namespace tether::agent::whisper

#pragma once
// A Whisper folder's configuration: config.json (the architecture),
// generation_config.json (suppressed tokens, the first timestamp allowed,
// multilingual or not) and preprocessor_config.json (the front end), read
// once and checked before any weight is touched. The special tokens' ids come
// from the tokenizer by name (whisper-large-v3 shifts them by one), so this
// takes the id lookup as a function. Torch-free.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent::hf {

struct whisper_architecture {
    std::int64_t d_model = 0;
    std::int64_t encoder_layers = 0, encoder_heads = 0, encoder_ffn = 0;
    std::int64_t decoder_layers = 0, decoder_heads = 0, decoder_ffn = 0;
    std::int64_t num_mel_bins = 80;
    std::int64_t max_source_positions = 1500; // encoder frames after the stride-2 conv: 3000 / 2
    std::int64_t max_target_positions = 448;  // the decoder's context
    std::int64_t vocab_size = 0;
    bool scale_embedding = false;
    std::string torch_dtype;
};

// The special tokens decoding uses, by name from the tokenizer.
struct whisper_tokens {
    std::int64_t eot = 0, sot = 0, sot_prev = 0, no_speech = 0, no_timestamps = 0;
    std::int64_t timestamp_begin = 0; // <|0.00|>; timestamps run to the vocabulary's end
    std::optional<std::int64_t> transcribe, translate, sot_lm;
    // Multilingual models: the language tokens, in id order, and their codes ("en").
    std::vector<std::int64_t> language_ids;
    std::vector<std::string> language_codes;
    std::optional<std::int64_t> language_id(std::string_view code) const;
    std::string language_code(std::int64_t id) const; // "" when not a language token
};

struct whisper_generation {
    std::vector<std::int64_t> suppress_tokens;
    std::vector<std::int64_t> begin_suppress_tokens;
    std::int64_t max_initial_timestamp_index = 50; // first timestamp at most 1.00 s
    bool is_multilingual = true;
};

struct whisper_frontend {
    std::uint32_t sampling_rate = 16000, n_fft = 400, hop_length = 160, chunk_length = 30;
    std::uint32_t feature_size = 80;
    std::vector<float> mel_filters; // feature_size x (n_fft / 2 + 1) when the file lists them; else computed
};

struct whisper_config {
    whisper_architecture arch;
    whisper_tokens tokens;
    whisper_generation generation;
    whisper_frontend frontend;
};

// The id of a token string ("<|en|>"), nullopt when the tokenizer lacks it.
using token_lookup = std::function<std::optional<std::int64_t>(std::string_view)>;

// Reads the three files of `dir`; throws folder_error naming the file and field.
whisper_config read_whisper_config(const std::filesystem::path& dir, const token_lookup& lookup);
// The same from the files' text (tests, fuzzing); empty text for an absent optional file.
whisper_config parse_whisper_config(std::string_view config_json, std::string_view generation_json,
                                    std::string_view preprocessor_json, const token_lookup& lookup);

} // namespace tether::agent::hf

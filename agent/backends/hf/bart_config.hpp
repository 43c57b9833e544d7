#pragma once
// A BART folder's configuration (bart-large-cnn, distilbart-cnn, …):
// config.json's sizes and special ids, and the generation settings
// summarization runs with — generation_config.json when present, else the
// same fields of config.json (older folders keep them there). Read once and
// checked before any weight is touched. Torch-free.

#include "backends/hf/lm_config.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace tether::agent::hf {

struct bart_generation {
    std::int64_t decoder_start = 2, bos = 0, eos = 2, pad = 1;
    std::optional<std::int64_t> forced_bos, forced_eos;
    std::int64_t num_beams = 1;
    std::int64_t max_length = 20; // the decoder's sequence with its start token, as transformers counts it
    std::int64_t min_length = 0;
    std::int64_t no_repeat_ngram_size = 0;
    double length_penalty = 1.0;
    bool early_stopping = false;
};

struct bart_config {
    std::int64_t d_model = 0, vocab_size = 0, max_position = 0;
    std::int64_t encoder_layers = 0, encoder_heads = 0, encoder_ffn = 0;
    std::int64_t decoder_layers = 0, decoder_heads = 0, decoder_ffn = 0;
    activation act = activation::gelu;
    bool scale_embedding = false;
    bart_generation generation;
    std::string torch_dtype;
};

// Reads dir/config.json and dir/generation_config.json (optional); throws
// folder_error naming the file and the field.
bart_config read_bart_config(const std::filesystem::path& dir);
// The same from the files' text ("" for no generation_config.json).
bart_config parse_bart_config(std::string_view config_json, std::string_view generation_json = {});

} // namespace tether::agent::hf

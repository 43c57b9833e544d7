#pragma once
// A job for an encoder folder, read into what the engine runs, and the
// answers' shapes. Text: the request's prompt (the request API), or
// params.input, a string or an array of strings (what the broker sends for
// /v1/embeddings), with params top_k (classifiers), dimensions and truncate.
// Torch-free; everything here reads hostile input.

#include "backends/backend.hpp"
#include "backends/hf/encoder_config.hpp"
#include "backends/model/model_inputs.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tether::agent {

struct encoder_limits {
    std::size_t max_inputs = 2048;        // texts in one request (OpenAI's limit)
    std::size_t max_text_bytes = 1U << 20; // one text
};

struct encoder_text_request {
    std::vector<std::string> texts;
    // params.input was given: the answer carries the rows as a file of
    // float32 (the broker makes OpenAI's shapes from it), and inputs over the
    // model's length are refused unless params.truncate is true. From the
    // prompt, they are cut with a note.
    bool from_input = false;
    bool truncate = true;
    std::optional<std::size_t> top_k;
    std::optional<std::int64_t> dimensions;
};

// params.task, as the broker sets it for an OpenAI endpoint that needs a
// kind of model ("embeddings"); "" when absent.
std::string asked_task(const job& j);

// A refusal is bad_input naming the parameter (or the input's index).
prepared<encoder_text_request> prepare_encoder_text(const job& j, const encoder_limits& limits);

// A summarization (text-to-text) request: the prompt, and params that
// override the folder's generation settings: num_beams (1 to 16),
// max_tokens (new tokens), min_length, length_penalty,
// no_repeat_ngram_size, early_stopping.
struct seq2seq_request {
    std::string text;
    std::optional<std::int64_t> num_beams, max_tokens, min_length, no_repeat_ngram_size;
    std::optional<double> length_penalty;
    std::optional<bool> early_stopping;
};
prepared<seq2seq_request> prepare_seq2seq(const job& j, const encoder_limits& limits);

// top_k only (the image request API has no other parameter).
prepared<std::optional<std::size_t>> read_top_k(const job& j);

struct ranked_label {
    std::string label;
    double confidence = 0; // softmax or sigmoid probability; the raw score for regression
};

// The labels ordered by their score (ties by id), at most `top_k` (all when
// absent), with the folder's score function applied to `logits`.
std::vector<ranked_label> rank_labels(std::span<const float> logits, const std::vector<std::string>& labels,
                                      hf::label_scores scores, std::optional<std::size_t> top_k);

// An image as the folder's ViTImageProcessor makes it: resized as PIL does
// (when the config resizes), rescaled (in float64, then float32) and
// normalised per channel; planar [3, height, width].
std::vector<float> preprocess_image(const image_rgb& img, const hf::image_preprocess& p);

// Rows of floats as the bytes of float32 values, little-endian, row after
// row: what an embeddings list is sent back as (the file embeddings.f32).
std::string float_rows_bytes(const std::vector<std::vector<float>>& rows);

} // namespace tether::agent

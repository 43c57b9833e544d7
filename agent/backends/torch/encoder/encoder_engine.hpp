#pragma once
// An encoder space: the model, its tokenizer (text models), and batching.
// Each request's inputs (one text, an /v1/embeddings list, an image) go
// through a model_queue, so the inputs of concurrent requests share forward
// calls; within a call, texts are sorted by length and run in padded,
// masked batches of at most max_batch rows (fewer for long texts, so that
// the attention scores stay within a fixed budget).

#include "backends/model/model_queue.hpp"
#include "backends/torch/encoder/encoder_model.hpp"
#include "text/model_text.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace tether::agent::encoder {

struct tokenized {
    std::vector<std::int64_t> ids;
    std::size_t tokens = 0; // before truncation (ids.size() when not truncated)
    bool truncated() const { return tokens > ids.size(); }
};

class encoder_engine {
  public:
    // `text` is null for image models.
    encoder_engine(std::unique_ptr<encoder_model> model, std::shared_ptr<const text::model_text> text, std::size_t max_batch,
                   std::chrono::microseconds batch_wait);

    // With the special tokens, cut to max_input_tokens(). Throws text::text_error.
    tokenized tokenize(std::string_view text) const;
    // The longest input: the model's positions, the tokenizer's
    // model_max_length and a sentence-transformers max_seq_length, the least of them.
    std::size_t max_input_tokens() const { return max_tokens_; }

    // One row per input: the logits (text classification) or the pooled
    // embedding. Blocks; batched with other requests' inputs.
    std::vector<std::vector<float>> run_text(std::vector<std::vector<std::int64_t>> inputs);
    // Preprocessed images, [3, size, size] each -> logits rows.
    std::vector<std::vector<float>> run_images(std::vector<at::Tensor> pixels);

    const encoder_model& model() const { return *model_; }
    const text::model_text* text() const { return text_.get(); }
    std::uint64_t calls_run() const { return text_queue_.calls_run() + image_queue_.calls_run(); }
    std::uint64_t items_run() const { return text_queue_.items_run() + image_queue_.items_run(); }
    std::uint64_t forward_batches() const { return forwards_.load(); }

  private:
    std::vector<std::vector<float>> forward_text(std::vector<std::vector<std::int64_t>>& inputs);
    std::vector<std::vector<float>> forward_images(std::vector<at::Tensor>& pixels);

    std::unique_ptr<encoder_model> model_;
    std::shared_ptr<const text::model_text> text_;
    std::size_t max_batch_;
    std::size_t max_tokens_ = 0;
    std::atomic<std::uint64_t> forwards_{0};
    model_queue<std::vector<std::int64_t>, std::vector<float>> text_queue_;
    model_queue<at::Tensor, std::vector<float>> image_queue_;
};

// Loads an encoder folder (config, tokenizer for text models, weights) and
// warms it up on one input; throws hf::folder_error / text::text_error.
std::unique_ptr<encoder_engine> load_encoder(const std::filesystem::path& dir, const load_options& options, std::size_t max_batch,
                                             std::chrono::microseconds batch_wait);

// Rows of [rows, cols] float32 (CPU) as vectors.
std::vector<std::vector<float>> tensor_rows(const at::Tensor& t);

} // namespace tether::agent::encoder

#pragma once
// A speech space: the Whisper model, its tokenizer, and (when the space's
// capacity is above 1) batching of the windows of concurrent requests. Each
// request runs whisper::transcribe on its own worker thread and hands the
// engine one window at a time; a model_queue runs one model call at a time
// with the windows waiting (up to max_batch).

#include "backends/model/model_queue.hpp"
#include "backends/model/whisper_decoding.hpp"
#include "backends/torch/whisper/whisper_model.hpp"
#include "text/model_text.hpp"

#include <chrono>
#include <memory>

namespace tether::agent::whisper {

class whisper_engine {
  public:
    whisper_engine(std::unique_ptr<whisper_model> model, std::shared_ptr<const text::model_text> text,
                   std::size_t max_batch, std::chrono::microseconds batch_wait);

    // Blocks until the whole clip is transcribed (or cancelled: the segments so far).
    transcript transcribe(std::span<const float> samples, const decode_options& options, std::span<const std::int64_t> prompt,
                          const std::function<void(const segment&)>& on_segment, const std::function<bool()>& cancelled);
    // One window through the model (batched with others when the engine batches).
    window_output decode(window_job job);

    // The prompt text's tokens as Whisper conditions on them (" " + text, trimmed).
    std::vector<std::int64_t> prompt_tokens(std::string_view prompt) const;
    std::string detokenize(std::span<const std::int64_t> ids) const;

    const whisper_model& model() const { return *model_; }
    const text::model_text& text() const { return *text_; }
    std::size_t max_batch() const { return max_batch_; }
    std::uint64_t batches_run() const { return queue_.calls_run(); }
    std::uint64_t windows_run() const { return queue_.items_run(); }

  private:
    std::unique_ptr<whisper_model> model_;
    std::shared_ptr<const text::model_text> text_;
    std::size_t max_batch_;
    model_queue<window_job, window_output> queue_;
};

// Loads a Whisper folder (config, tokenizer, weights) and warms it up on one
// window of silence-free noise; throws hf::folder_error / text::text_error.
std::unique_ptr<whisper_engine> load_whisper(const std::filesystem::path& dir, const load_options& options,
                                             std::size_t max_batch, std::chrono::microseconds batch_wait);

} // namespace tether::agent::whisper

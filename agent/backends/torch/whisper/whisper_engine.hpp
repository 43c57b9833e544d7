#pragma once
// A speech space: the Whisper model, its tokenizer, and (when the space's
// capacity is above 1) batching of the windows of concurrent requests. Each
// request runs whisper::transcribe on its own worker thread and hands the
// engine one window at a time. One model call runs at a time (two at once
// would only fight for the cores); the windows that arrive while it runs
// wait, and the thread that finds the model free takes all of them (up to
// max_batch) into the next call.

#include "backends/model/whisper_decoding.hpp"
#include "backends/torch/whisper/whisper_model.hpp"
#include "text/model_text.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

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
    std::uint64_t batches_run() const { return batches_.load(); }
    std::uint64_t windows_run() const { return windows_.load(); }

  private:
    // A window waiting for the model, on its submitter's stack.
    struct pending {
        window_job job;
        std::optional<window_output> out;
        std::exception_ptr error;
        bool done = false;
    };

    std::unique_ptr<whisper_model> model_;
    std::shared_ptr<const text::model_text> text_;
    std::size_t max_batch_;
    std::chrono::microseconds batch_wait_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<pending*> queue_;
    bool running_ = false;
    std::atomic<std::uint64_t> batches_{0}, windows_{0};
};

// Loads a Whisper folder (config, tokenizer, weights) and warms it up on one
// window of silence-free noise; throws hf::folder_error / text::text_error.
std::unique_ptr<whisper_engine> load_whisper(const std::filesystem::path& dir, const load_options& options,
                                             std::size_t max_batch, std::chrono::microseconds batch_wait);

} // namespace tether::agent::whisper

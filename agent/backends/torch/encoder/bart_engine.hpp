#pragma once
// A summarization space: a BART folder's model and tokenizer, one generation
// at a time, and the job that runs on it — the prompt cut to the model's
// positions (with a note), the folder's generation settings overridden by
// the request's params, the summary streamed as deltas when greedy (beam
// search answers once its best hypothesis is known).

#include "backends/backend.hpp"
#include "backends/torch/encoder/bart_model.hpp"
#include "text/model_text.hpp"

#include <memory>
#include <mutex>
#include <string>

namespace tether::agent::encoder {

class bart_engine {
  public:
    bart_engine(std::unique_ptr<bart_model> model, std::shared_ptr<const text::model_text> text);

    // Ends with exactly one of sink.completed / sink.failed, or nothing when cancelled.
    void run(const job& j, cancellation_token& cancel, result_sink& sink);

    const bart_model& model() const { return *model_; }
    const text::model_text& text() const { return *text_; }
    // The folder's settings as a request without params runs them.
    seq2seq_options defaults() const;

  private:
    std::unique_ptr<bart_model> model_;
    std::shared_ptr<const text::model_text> text_;
    std::mutex mutex_; // one generation at a time: two would only fight for the cores
};

// Loads a BART folder and warms it up (one greedy token); throws
// hf::folder_error / text::text_error.
std::unique_ptr<bart_engine> load_bart(const std::filesystem::path& dir, const load_options& options);

} // namespace tether::agent::encoder

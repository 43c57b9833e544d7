#pragma once
// A summarization space: a BART folder's model and tokenizer, the scheduler
// that decodes its requests together, and the job that runs on it — the
// prompt cut to the model's positions (with a note), the folder's generation
// settings overridden by the request's params, the summary streamed as
// deltas when greedy (beam search answers once its best hypothesis is known).
//
// The scheduler is one thread: up to `slots` requests (the space's capacity)
// share each decoder step, greedy and beam searches alike; a request joins at
// the next step (the inputs that join together are encoded in one call) and
// leaves the moment it ends or is cancelled.

#include "backends/backend.hpp"
#include "backends/torch/encoder/bart_model.hpp"
#include "text/model_text.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tether::agent::encoder {

struct bart_engine_stats {
    std::uint64_t steps = 0;         // decoder forwards
    std::uint64_t encoder_calls = 0; // encoder forwards
    std::uint32_t widest_step = 0;   // most requests in one step
    std::uint32_t widest_rows = 0;   // most decoder rows (beams included) in one step
};

class bart_engine {
  public:
    // `wait`: how long an idle engine waits for company before the first step.
    bart_engine(std::unique_ptr<bart_model> model, std::shared_ptr<const text::model_text> text, std::uint32_t slots = 1,
                std::chrono::microseconds wait = {});
    ~bart_engine();
    bart_engine(const bart_engine&) = delete;
    bart_engine& operator=(const bart_engine&) = delete;

    // Ends with exactly one of sink.completed / sink.failed, or nothing when cancelled.
    void run(const job& j, cancellation_token& cancel, result_sink& sink);

    // One generation through the scheduler; blocks the calling thread.
    // `on_token` (greedy) is called on the engine's thread with each token.
    // finish_reason "error" carries the message in `error`.
    struct outcome {
        seq2seq_output out;
        std::string error;
    };
    outcome generate(std::vector<std::int64_t> input, const seq2seq_options& options, cancellation_token& cancel,
                     std::function<void(std::int64_t)> on_token);

    bart_engine_stats stats() const;
    std::uint32_t slots() const { return slots_; }

    const bart_model& model() const { return *model_; }
    const text::model_text& text() const { return *text_; }
    // The folder's settings as a request without params runs them.
    seq2seq_options defaults() const;

  private:
    struct request;
    void loop();
    void admit(std::vector<std::shared_ptr<request>>& joining, std::vector<std::shared_ptr<request>>& active);
    static void finish(request& r, seq2seq_output out, std::string error = {});

    std::unique_ptr<bart_model> model_;
    std::shared_ptr<const text::model_text> text_;
    const std::uint32_t slots_;
    const std::chrono::microseconds wait_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<request>> pending_;
    bool stopping_ = false;
    bart_engine_stats stats_;
    std::thread thread_;
};

// Loads a BART folder and warms it up (one greedy token); throws
// hf::folder_error / text::text_error.
std::unique_ptr<bart_engine> load_bart(const std::filesystem::path& dir, const load_options& options, std::uint32_t slots = 1,
                                       std::chrono::microseconds wait = {});

} // namespace tether::agent::encoder

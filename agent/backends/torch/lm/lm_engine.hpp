#pragma once
// The scheduler that owns one language model: a KV cache preallocated for
// its slots (the space's capacity), and one thread that at each step runs a
// single forward over every running sequence — a chunk of a new prompt
// (prefill) and one token for each sequence already decoding — so a request
// joins at the next step and leaves the moment it ends (continuous
// batching). Each sequence samples with its own parameters, streams text
// that never splits UTF-8 or shows a stop string, and ends at the EOS set, a
// stop string or token, max_tokens, the context, or its cancellation (within
// one step).

#include "backends/backend.hpp"
#include "backends/model/lm_request.hpp"
#include "backends/torch/lm/causal_lm.hpp"
#include "text/model_text.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tether::agent::lm {

struct lm_engine_options {
    std::uint32_t slots = 1;          // sequences decoded together
    std::int64_t max_context = 4096;  // cap on the model's context (prompt + output) per slot
    std::int64_t prefill_chunk = 512; // prompt tokens one step takes at most
};

struct lm_token_logprob {
    std::int64_t id = 0;
    std::string text; // the token decoded alone
    float logprob = 0;
    std::vector<lm_token_logprob> top;
};

struct lm_outcome {
    std::string finish_reason; // "stop", "length", "cancelled" or "error"
    std::string error;         // with "error"
    std::string text;          // everything shown
    std::size_t prompt_tokens = 0;
    std::size_t completion_tokens = 0;
    double time_to_first_token_ms = 0;
    double decode_tokens_per_s = 0; // after the first token
    std::vector<lm_token_logprob> logprobs; // when asked
};

struct lm_engine_stats {
    std::uint64_t steps = 0;
    std::uint64_t tokens = 0;       // tokens through forward
    std::uint32_t widest_step = 0;  // most sequences in one step
};

class lm_engine {
  public:
    lm_engine(std::unique_ptr<causal_lm> model, std::shared_ptr<const text::model_text> text, const lm_engine_options& options);
    ~lm_engine();
    lm_engine(const lm_engine&) = delete;
    lm_engine& operator=(const lm_engine&) = delete;

    // Runs one request to its end; blocks the calling thread. `on_delta` is
    // called on the engine's thread with text to show (coalesced to one call
    // per 10 ms or so).
    lm_outcome generate(const lm_generation& g, cancellation_token& cancel, const std::function<void(std::string)>& on_delta);

    const causal_lm& model() const { return *model_; }
    const text::model_text& text() const { return *text_; }
    std::int64_t context() const { return context_; }
    std::uint32_t slots() const { return options_.slots; }
    std::uint64_t cache_bytes() const;
    lm_engine_stats stats() const;

  private:
    struct sequence;
    void loop();
    void step(std::vector<std::shared_ptr<sequence>>& active);
    void finish(sequence& s, std::string reason, std::string error = {});
    void emit(sequence& s, std::string text, bool flush);
    void accept_token(sequence& s, const sampled_token& sample);

    std::unique_ptr<causal_lm> model_;
    std::shared_ptr<const text::model_text> text_;
    lm_engine_options options_;
    std::int64_t context_;
    std::unique_ptr<kv_cache> cache_;
    std::vector<std::int32_t> free_slots_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    // Shared with the generate() call that waits for it: the engine may look
    // at a sequence it has finished (its caller may be gone by then).
    std::deque<std::shared_ptr<sequence>> pending_;
    bool stopping_ = false;
    lm_engine_stats stats_;
    std::thread thread_;
};

} // namespace tether::agent::lm

#pragma once
// A text-generation job for a Hugging Face language model, read into what
// the engine runs: the prompt's token ids (a chat's messages rendered with
// the model's own template and encoded without adding special tokens again;
// a plain prompt encoded as the tokenizer's post-processor says) and the
// sampling surface (OpenAI's and vLLM's parameters, each range-checked).
// Torch-free; everything here reads hostile input.

#include "backends/backend.hpp"
#include "backends/model/lm_sampler.hpp"
#include "backends/model/model_inputs.hpp"
#include "text/model_text.hpp"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace tether::agent {

struct lm_generation {
    std::vector<std::int64_t> prompt;
    std::uint32_t max_tokens = 0;  // never past the context
    lm_sampling sampling;
    std::uint64_t seed = 0;
    std::vector<std::string> stop;          // at most 4
    std::set<std::int64_t> stop_token_ids;  // beside the model's EOS set
    bool ignore_eos = false;
    bool logprobs = false;                  // with sampling.top_logprobs alternatives
    bool chat = false;                      // rendered from messages
};

struct lm_request_limits {
    std::uint32_t context = 2048;       // the engine's context (prompt + output)
    std::uint32_t default_max_tokens = 4096;
    std::size_t max_prompt_bytes = 4U << 20;
    std::size_t max_stop = 4;
    std::size_t max_stop_bytes = 256;
    std::size_t max_stop_token_ids = 64;
};

// `random_seed` when the params give none. A refusal is bad_input with a
// message the user can act on (which parameter, what range).
prepared<lm_generation> prepare_lm_generation(const job& j, const text::model_text& text, const lm_request_limits& limits,
                                              std::uint64_t random_seed);

} // namespace tether::agent

#pragma once
// BART (transformers' BartForConditionalGeneration: bart-large-cnn,
// distilbart) run natively with ATen: learned positions with their offset of
// 2, post-norm encoder and decoder layers, layernorm_embedding,
// final_logits_bias, the output projection tied to the shared embedding.
// Generation as transformers runs it for summarization: the decoder starts
// from decoder_start_token_id; forced BOS and EOS, min_length and
// no_repeat_ngram_size applied to the log-probabilities; greedy or beam
// search (num_beams, length_penalty, early_stopping, as BeamSearchScorer
// scores finished hypotheses: sum of log-probabilities / length^penalty with
// the start token counted). The decoder's keys and values are cached and the
// encoder's cross-attention keys and values computed once.
//
// Several requests decode together: start() encodes their inputs in one
// padded, masked call, and each step() is one decoder forward over every row
// of every sequence (a greedy one has a row, a beam search one per beam); the
// projections, the MLPs and the output layer run over all rows at once, the
// attention over each sequence's own cache and input, so a sequence gets the
// same tokens alone or in company.

#include "backends/hf/bart_config.hpp"
#include "backends/torch/encoder/encoder_model.hpp"

#include <ATen/ATen.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tether::agent::encoder {


struct seq2seq_options {
    std::int64_t num_beams = 1;
    std::int64_t max_length = 20; // with the start token
    std::int64_t min_length = 0;
    std::int64_t no_repeat_ngram_size = 0;
    double length_penalty = 1.0;
    bool early_stopping = false;
};

struct seq2seq_output {
    std::vector<std::int64_t> tokens; // after the start token, up to and with EOS when it came
    std::string finish_reason;        // "stop" (EOS), "length", "cancelled"
};

// One request's generation inside a decoder batch: its search (greedy or
// beams), its rows' decoder cache, its input's cross-attention keys and
// values. Made by bart_model::start, advanced by bart_model::step.
class bart_sequence {
  public:
    struct state;
    explicit bart_sequence(std::unique_ptr<state> s);
    ~bart_sequence();
    bart_sequence(const bart_sequence&) = delete;
    bart_sequence& operator=(const bart_sequence&) = delete;

    bool done() const;
    std::size_t rows() const;
    // Greedy: the token the last step chose (none before the first, and for beams).
    std::optional<std::int64_t> chosen() const;
    // When done: the tokens and why it ended.
    const seq2seq_output& result() const;

    state& get() { return *s_; }

  private:
    std::unique_ptr<state> s_;
};

class bart_model {
  public:
    // Throws hf::folder_error naming the file and the tensor.
    bart_model(const std::filesystem::path& dir, hf::bart_config config, const load_options& options);
    ~bart_model();

    // ids (at most max_position) -> encoder states [1, S, d].
    at::Tensor encode(const std::vector<std::int64_t>& ids) const;
    // Logits (float32, CPU, with final_logits_bias) at every position of a
    // whole decoder sequence over `encoded`: [L, vocab]. For tests.
    at::Tensor decoder_logits(const std::vector<std::int64_t>& decoder_ids, const at::Tensor& encoded) const;
    // Generates from `ids`. `on_token` (greedy only) gets each token as it is
    // chosen; `cancelled` is asked before each step.
    // One request alone: start() and step() until it is done.
    seq2seq_output generate(const std::vector<std::int64_t>& ids, const seq2seq_options& options,
                            const std::function<void(std::int64_t)>& on_token, const std::function<bool()>& cancelled) const;

    // Encodes `inputs` (each 1..max_position ids) in one call and starts a
    // search for each with its options. A sequence whose max_length leaves no
    // token to make is done at once.
    std::vector<std::unique_ptr<bart_sequence>> start(const std::vector<std::vector<std::int64_t>>& inputs,
                                                      const std::vector<seq2seq_options>& options) const;
    // One decoder step over the rows of every sequence given (none done):
    // each chooses its next token(s) and may end.
    void step(const std::vector<bart_sequence*>& sequences) const;

    const hf::bart_config& config() const { return config_; }
    std::string describe() const;

  private:
    struct impl;
    hf::bart_config config_;
    at::Device device_;
    std::unique_ptr<impl> impl_;
};

// The logits processors, on one row of log-probabilities for the sequence
// `seq` (start token first): min length, forced BOS at length 1, forced EOS
// at max_length - 1, no repeated n-grams. Torch-free in what it touches.
void process_scores(std::vector<float>& logprobs, const std::vector<std::int64_t>& seq, const hf::bart_generation& ids,
                    const seq2seq_options& o);

} // namespace tether::agent::encoder

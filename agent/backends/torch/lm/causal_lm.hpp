#pragma once
// A decoder-only language model run natively: what the engine sees of an
// architecture. A step is a batch of rows, each a run of new tokens of one
// sequence at its place in the KV cache (a prefill chunk, or one decode
// token); forward writes their keys and values into the cache and returns
// float32 logits for each row's last token (or every token, for tests).
// Architectures (llama.cpp: Llama, Mistral, Qwen2; gpt2.cpp) implement it;
// adding one is a file and a line in load_causal_lm.

#include "backends/torch/lm/load_options.hpp"
#include "backends/hf/lm_config.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tether::agent::lm {

struct lm_row {
    std::int32_t slot = 0;    // the sequence's place in the cache
    std::int64_t start = 0;   // position of its first new token
    std::int64_t length = 0;  // new tokens
};

struct lm_step {
    std::vector<lm_row> rows;
    std::vector<std::int64_t> tokens; // every row's new tokens, in row order
    bool all_logits = false;          // logits for every token, not only each row's last
};

// Keys and values of every layer: [slots, kv_heads, capacity, head_dim] each.
class kv_cache {
  public:
    kv_cache(std::int64_t layers, std::int64_t slots, std::int64_t kv_heads, std::int64_t capacity,
             std::int64_t head_dim, at::Device device, at::ScalarType dtype);
    at::Tensor& keys(std::size_t layer) { return k_[layer]; }
    at::Tensor& values(std::size_t layer) { return v_[layer]; }
    std::int64_t capacity() const { return capacity_; }
    std::int64_t slots() const { return slots_; }
    std::uint64_t bytes() const;

  private:
    std::vector<at::Tensor> k_, v_;
    std::int64_t slots_, capacity_;
};

class causal_lm {
  public:
    virtual ~causal_lm() = default;
    // Logits (float32, on the CPU): [rows, vocab], or [tokens, vocab] with all_logits.
    virtual at::Tensor forward(const lm_step& step, kv_cache& cache) = 0;

    const hf::lm_config& config() const { return config_; }
    at::Device device() const { return device_; }
    at::ScalarType dtype() const { return dtype_; }
    // The longest sequence the model can take (its trained context).
    std::int64_t max_context() const { return config_.max_position; }
    kv_cache make_cache(std::int64_t slots, std::int64_t capacity) const;
    // Bytes of weights one forward reads (for the bandwidth bound).
    std::uint64_t weight_bytes() const { return weight_bytes_; }
    // "llama, 2 layers, 64 hidden, GQA 4/2, BF16 stored, computed in float32 on cpu"
    std::string describe() const;

  protected:
    causal_lm(hf::lm_config config, at::Device device, at::ScalarType dtype)
        : config_(std::move(config)), device_(device), dtype_(dtype) {}
    hf::lm_config config_;
    at::Device device_;
    at::ScalarType dtype_;
    std::uint64_t weight_bytes_ = 0;
    std::string stored_;
};

// Reads config.json and the weights; throws hf::folder_error naming the file
// and the field or tensor.
std::unique_ptr<causal_lm> load_causal_lm(const std::filesystem::path& dir, const lm_load_options& options);

} // namespace tether::agent::lm

#pragma once
// A language model's config.json, read once into a plain struct and checked
// (every size in range and consistent with the others) before any weight is
// touched. Llama, Mistral and Qwen2 share one family (their differences are
// fields here); GPT-2 has its own. Torch-free.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace tether::agent::text {
class json_view;
}

namespace tether::agent::hf {

enum class lm_family { llama, gpt2 };

enum class rope_kind { standard, linear, llama3 };

struct rope_config {
    double theta = 10000.0;
    rope_kind kind = rope_kind::standard;
    double factor = 1.0;                 // linear, llama3
    double low_freq_factor = 1.0;        // llama3
    double high_freq_factor = 4.0;       // llama3
    std::int64_t original_max_position = 8192; // llama3
};

enum class activation { silu, gelu_tanh, gelu, relu };

struct lm_config {
    std::string model_type; // "llama", "mistral", "qwen2", "gpt2"
    lm_family family = lm_family::llama;
    std::int64_t vocab_size = 0;
    std::int64_t hidden_size = 0;
    std::int64_t intermediate_size = 0;
    std::int64_t num_layers = 0;
    std::int64_t num_heads = 0;
    std::int64_t num_kv_heads = 0;
    std::int64_t head_dim = 0;
    std::int64_t max_position = 0; // the context the model was trained for
    double norm_eps = 1e-5;
    activation act = activation::silu;
    bool tie_word_embeddings = false;
    bool qkv_bias = false;  // q, k, v projections (Qwen2; Llama's attention_bias)
    bool o_bias = false;    // the output projection (Llama's attention_bias)
    bool mlp_bias = false;  // Llama's mlp_bias
    std::optional<std::int64_t> sliding_window; // Mistral (and Qwen2 with use_sliding_window)
    rope_config rope;
    std::string torch_dtype; // as stored (for the log), "" when not given
};

// c[key] as an activation (transformers' names); `fallback` when absent.
activation read_activation(const text::json_view& c, std::string_view key, std::string_view fallback);

// Reads dir/config.json; throws folder_error naming the file and the field.
lm_config read_lm_config(const std::filesystem::path& dir);
// The same from the file's text (tests, fuzzing).
lm_config parse_lm_config(std::string_view json);

// config.json's model_type ("whisper", "llama", …), so the agent can pick the
// engine; throws folder_error when the file cannot be read or has none.
std::string read_model_type(const std::filesystem::path& dir);

// "llama", "mistral", "qwen2", "gpt2": what read_lm_config accepts.
bool is_supported_model_type(std::string_view model_type);

} // namespace tether::agent::hf

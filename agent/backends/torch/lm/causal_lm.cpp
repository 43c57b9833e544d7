#include "backends/torch/lm/causal_lm.hpp"

#include "backends/hf/folder_error.hpp"
#include "backends/torch/lm/gpt2.hpp"
#include "backends/torch/lm/llama.hpp"
#include "backends/torch/lm/lm_weights.hpp"

#include "tether/shared/log.hpp"

#include <fmt/format.h>

namespace tether::agent::lm {

kv_cache::kv_cache(std::int64_t layers, std::int64_t slots, std::int64_t kv_heads, std::int64_t capacity,
                   std::int64_t head_dim, at::Device device, at::ScalarType dtype)
    : slots_(slots), capacity_(capacity) {
    const auto opts = at::TensorOptions().dtype(dtype).device(device);
    for (std::int64_t i = 0; i < layers; ++i) {
        k_.push_back(at::zeros({slots, kv_heads, capacity, head_dim}, opts));
        v_.push_back(at::zeros({slots, kv_heads, capacity, head_dim}, opts));
    }
}

std::uint64_t kv_cache::bytes() const {
    std::uint64_t b = 0;
    for (const auto& t : k_) b += static_cast<std::uint64_t>(t.numel()) * t.element_size() * 2;
    return b;
}

kv_cache causal_lm::make_cache(std::int64_t slots, std::int64_t capacity) const {
    return kv_cache(config_.num_layers, slots, config_.num_kv_heads, capacity, config_.head_dim, device_, dtype_);
}

std::string causal_lm::describe() const {
    const auto& c = config_;
    return fmt::format("{}, {} layers, hidden {}, {} heads ({} kv) of {}, vocabulary {}, context {}, {} stored, "
                       "computed in {} on {}",
                       c.model_type, c.num_layers, c.hidden_size, c.num_heads, c.num_kv_heads, c.head_dim,
                       c.vocab_size, c.max_position, stored_,
                       dtype_ == at::kHalf ? "float16" : dtype_ == at::kBFloat16 ? "bfloat16" : "float32", device_.str());
}

namespace {

at::ScalarType compute_dtype(const lm_weights& w, const lm_load_options& o) {
    if (o.device.is_cpu()) return at::kFloat;
    if (o.dtype) return *o.dtype;
    const auto stored = w.stored_dtype();
    return stored == "F16" ? at::kHalf : stored == "BF16" ? at::kBFloat16 : at::kFloat;
}

} // namespace

std::unique_ptr<causal_lm> load_causal_lm(const std::filesystem::path& dir, const lm_load_options& options) {
    hf::lm_config config = hf::read_lm_config(dir);
    // The compute dtype depends on what is stored: read the headers first.
    auto probe = std::make_unique<lm_weights>(dir, options.device, at::kFloat);
    const at::ScalarType dtype = compute_dtype(*probe, options);
    auto weights = dtype == at::kFloat ? std::move(probe) : std::make_unique<lm_weights>(dir, options.device, dtype);
    std::unique_ptr<causal_lm> model;
    switch (config.family) {
    case hf::lm_family::llama: model = make_llama(config, *weights); break;
    case hf::lm_family::gpt2: model = make_gpt2(config, *weights); break;
    }
    if (auto unused = weights->unused(); !unused.empty())
        log::warn("{}: {} tensor(s) of the weights are not used by {}, e.g. {}", dir.string(), unused.size(),
                  config.model_type, unused.front());
    return model;
}

} // namespace tether::agent::lm

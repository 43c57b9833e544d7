#pragma once
// The encoders of Hugging Face folders run natively with ATen: BERT,
// RoBERTa / XLM-RoBERTa and DistilBERT over padded, masked token batches,
// ViT over image batches; their classification heads (BERT's pooler,
// RoBERTa's dense + out_proj, DistilBERT's pre_classifier, ViT's classifier
// on the CLS token) and sentence-transformers' pooling. Weights are taken by
// the names transformers saves (with or without the base model's prefix).

#include "backends/hf/encoder_config.hpp"
#include "backends/torch/lm/load_options.hpp"

#include <ATen/ATen.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace tether::agent::encoder {

using load_options = lm::lm_load_options;

class encoder_model {
  public:
    // Throws hf::folder_error naming the file and the tensor.
    encoder_model(const std::filesystem::path& dir, hf::encoder_config config, const load_options& options);
    ~encoder_model();

    // ids [B, L] int64 with mask [B, L] (1 a token, 0 padding) -> the last
    // hidden states [B, L, hidden] on the device.
    at::Tensor encode_text(const at::Tensor& ids, const at::Tensor& mask) const;
    // pixels [B, 3, size, size] (preprocessed) -> the final-norm hidden states [B, 1 + patches, hidden].
    at::Tensor encode_image(const at::Tensor& pixels) const;
    // hidden [B, L, hidden] -> logits [B, labels], float32 on the CPU.
    at::Tensor classify(const at::Tensor& hidden) const;
    // hidden and mask -> the pooled embeddings [B, hidden] (normalised when
    // the folder says), float32 on the CPU.
    at::Tensor pool(const at::Tensor& hidden, const at::Tensor& mask) const;

    const hf::encoder_config& config() const { return config_; }
    at::Device device() const { return device_; }
    // "bert, 12 layers, width 768, text classification (6 labels), F32 stored, computed in float32 on cpu"
    std::string describe() const;

  private:
    struct impl;
    hf::encoder_config config_;
    at::Device device_;
    std::unique_ptr<impl> impl_;
};

} // namespace tether::agent::encoder

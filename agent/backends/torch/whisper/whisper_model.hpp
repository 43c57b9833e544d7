#pragma once
// Whisper (transformers' WhisperForConditionalGeneration) run natively with
// ATen: the convolutional stem and pre-norm encoder over a 30 s window, and a
// decoder whose cross-attention keys and values are computed once per window
// and whose self-attention keys and values are cached. decode() takes a batch
// of windows (from one request or several) through one encoder call and
// steps every row of the batch together, rows dropping out as they finish.

#include "backends/hf/whisper_config.hpp"
#include "backends/model/whisper_decoding.hpp"
#include "backends/torch/lm/load_options.hpp"

#include <ATen/ATen.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tether::agent::whisper {

using load_options = lm::lm_load_options;

class whisper_model {
  public:
    // Reads the weights of `dir` for `config`; throws hf::folder_error naming
    // the file and the tensor.
    whisper_model(const std::filesystem::path& dir, hf::whisper_config config, const load_options& options);
    ~whisper_model();

    // mel [batch, n_mels, frames] -> encoder states [batch, max_source_positions, d_model].
    at::Tensor encode(const at::Tensor& mel) const;
    // Logits (float32, CPU) of a whole decoder sequence per row, tokens
    // [batch, length], over `encoded` — for tests and language detection.
    at::Tensor decoder_logits(const at::Tensor& tokens, const at::Tensor& encoded) const;
    // Decodes each window (prompt from decoder_prompt, language detected
    // when not given); one output per job, in order.
    std::vector<window_output> decode(std::vector<window_job>& jobs) const;

    const hf::whisper_config& config() const { return config_; }
    at::Device device() const { return device_; }
    // "whisper, 4+4 layers, width 384, F32 stored, computed in float32 on cpu"
    std::string describe() const;

  private:
    struct impl;
    hf::whisper_config config_;
    at::Device device_;
    std::unique_ptr<impl> impl_;
};

} // namespace tether::agent::whisper

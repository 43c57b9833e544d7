#pragma once
// Swin2SR (transformers' Swin2SRForImageSuperResolution) run natively with
// ATen: the image is padded (symmetric, to a multiple of the window, as
// Swin2SRImageProcessor pads it) and normalised, goes through the shallow
// convolution, the residual Swin Transformer V2 stages (windowed cosine
// attention with the continuous position bias, shifted windows masked), the
// body convolution and the configured upsampler, and comes back cropped to
// the input's size times the scale. Weights by the names transformers saves.

#include "backends/hf/swin2sr_config.hpp"
#include "backends/torch/lm/load_options.hpp"

#include <ATen/ATen.h>

#include <filesystem>
#include <memory>
#include <string>

namespace tether::agent::image {

class swin2sr_model {
  public:
    // Throws hf::folder_error naming the file and the tensor.
    swin2sr_model(const std::filesystem::path& dir, const lm::lm_load_options& options);
    ~swin2sr_model();

    // pixels [B, 3, H, W] in [0, 1] (any device; moved to the model's) ->
    // [B, 3, H·scale, W·scale] on the model's device, in the compute dtype,
    // not clamped.
    at::Tensor forward(const at::Tensor& pixels) const;

    const hf::swin2sr_config& config() const { return config_; }
    at::Device device() const { return device_; }
    // "swin2sr ×2 (pixelshuffle), 6 stages of 6 layers, width 180, window 8, F32 stored, computed in float32 on cpu"
    std::string describe() const;

  private:
    struct impl;
    hf::swin2sr_config config_;
    at::Device device_;
    std::unique_ptr<impl> impl_;
};

} // namespace tether::agent::image

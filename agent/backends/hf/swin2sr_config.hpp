#pragma once
// A Swin2SR folder's configuration (transformers' Swin2SRForImageSuperResolution:
// super-resolution, lightweight and real-world super-resolution, denoising
// and JPEG artefact removal), read and checked before any weight is touched.
// Torch-free.

#include "backends/hf/lm_config.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent::hf {

// The head after the transformer body (config.json's "upsampler").
enum class swin2sr_upsampler {
    pixelshuffle,       // conv, LeakyReLU, (conv + PixelShuffle) per factor of 2 (or one of 3), conv
    pixelshuffledirect, // one conv and one PixelShuffle (lightweight models)
    nearest_conv,       // twice nearest ×2 then conv (real-world models, ×4 only)
    none,               // "": the input plus a conv of the body (denoising, JPEG)
};

struct swin2sr_config {
    std::int64_t image_size = 64; // the training size: fixes each layer's window and shift
    std::int64_t num_channels = 3;
    std::int64_t embed_dim = 180;
    std::vector<std::int64_t> depths, num_heads; // per stage
    std::int64_t window_size = 8;                // as configured (inputs are padded to a multiple of it)
    std::int64_t layer_window = 8;               // each layer's window: min(window_size, image_size)
    std::int64_t shift = 4;                      // the odd layers' shift (0 when the window covers the image)
    std::int64_t mlp_hidden = 360;               // int(mlp_ratio · embed_dim)
    bool qkv_bias = true;
    activation act = activation::gelu;
    double norm_eps = 1e-5;
    std::int64_t upscale = 2;
    double img_range = 1.0;
    bool three_conv = false; // resi_connection "3conv" (else "1conv")
    swin2sr_upsampler upsampler = swin2sr_upsampler::pixelshuffle;
    // The output's scale: upscale, or 1 for the denoising head.
    std::int64_t scale() const { return upsampler == swin2sr_upsampler::none ? 1 : upscale; }
};

bool is_image_to_image_model_type(std::string_view model_type);

// Throws folder_error naming the file and field.
swin2sr_config parse_swin2sr_config(std::string_view config_json);
swin2sr_config read_swin2sr_config(const std::filesystem::path& dir);

} // namespace tether::agent::hf

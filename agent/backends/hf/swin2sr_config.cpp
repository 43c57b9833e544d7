#include "backends/hf/swin2sr_config.hpp"

#include "backends/hf/config_json.hpp"

#include <algorithm>
#include <cmath>

namespace tether::agent::hf {
namespace {

constexpr std::size_t max_config_bytes = 4U << 20;

using text::json_view;

std::vector<std::int64_t> int_list(const json_view& c, std::string_view key, std::int64_t lo, std::int64_t hi,
                                   std::vector<std::int64_t> fallback) {
    auto m = c.member(key);
    if (!m) return fallback;
    if (!m->is_array()) m->fail("expected a list of whole numbers");
    std::vector<std::int64_t> out;
    m->for_each(64, [&](std::size_t, const json_view& v) {
        const auto n = v.as_int();
        if (n < lo || n > hi) v.fail("expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
        out.push_back(n);
    });
    if (out.empty()) m->fail("expected at least one stage");
    return out;
}

} // namespace

bool is_image_to_image_model_type(std::string_view model_type) { return model_type == "swin2sr"; }

swin2sr_config parse_swin2sr_config(std::string_view config_json) {
    swin2sr_config cfg;
    with_json_root(config_json, "config.json", max_config_bytes, [&](const json_view& c) {
        const auto type = c.required("model_type").as_string();
        if (type != "swin2sr") c.required("model_type").fail("expected swin2sr");
        if (auto a = c.member("architectures")) {
            bool sr = false;
            a->for_each(16, [&](std::size_t, const json_view& v) { sr = sr || v.as_string() == "Swin2SRForImageSuperResolution"; });
            if (!sr)
                a->fail("a Swin2SR folder is served for images: its architectures must name Swin2SRForImageSuperResolution "
                        "(a bare Swin2SRModel has no image head)");
        }
        cfg.image_size = int_field(c, "image_size", 1, 4096, 64);
        if (int_field(c, "patch_size", 1, 1, 1) != 1) c.required("patch_size").fail("only 1 is supported");
        cfg.num_channels = int_field(c, "num_channels", 3, 3, 3);
        if (int_field(c, "num_channels_out", 3, 3, cfg.num_channels) != 3)
            c.required("num_channels_out").fail("only 3 (RGB) is supported");
        cfg.embed_dim = int_field(c, "embed_dim", 1, 4096, 180);
        cfg.depths = int_list(c, "depths", 1, 64, {6, 6, 6, 6, 6, 6});
        cfg.num_heads = int_list(c, "num_heads", 1, 256, {6, 6, 6, 6, 6, 6});
        if (cfg.depths.size() > 32) c.required("depths").fail("at most 32 stages");
        if (cfg.num_heads.size() != cfg.depths.size())
            c.required("num_heads").fail("expected one head count per stage (" + std::to_string(cfg.depths.size()) + ")");
        for (const auto h : cfg.num_heads)
            if (cfg.embed_dim % h != 0)
                c.required("num_heads").fail(std::to_string(h) + " heads do not divide embed_dim (" + std::to_string(cfg.embed_dim) + ")");
        cfg.window_size = int_field(c, "window_size", 1, 64, 8);
        // As transformers builds each layer: the window shrinks to a smaller
        // training size, and a window that covers it is not shifted.
        cfg.layer_window = std::min(cfg.window_size, cfg.image_size);
        cfg.shift = cfg.image_size <= cfg.layer_window ? 0 : cfg.window_size / 2;
        const double ratio = number_field(c, "mlp_ratio", 0, 64, 2.0);
        cfg.mlp_hidden = static_cast<std::int64_t>(ratio * static_cast<double>(cfg.embed_dim));
        if (cfg.mlp_hidden < 1) c.required("mlp_ratio").fail("leaves no hidden units");
        cfg.qkv_bias = c.bool_or("qkv_bias", true);
        cfg.act = read_activation(c, "hidden_act", "gelu");
        if (c.bool_or("use_absolute_embeddings", false))
            c.required("use_absolute_embeddings").fail("absolute position embeddings are not supported");
        cfg.norm_eps = number_field(c, "layer_norm_eps", 0, 1, 1e-5);
        cfg.upscale = int_field(c, "upscale", 1, 8, 2);
        cfg.img_range = number_field(c, "img_range", 0, 1e6, 1.0);
        const auto resi = c.string_or("resi_connection", "1conv");
        if (resi != "1conv" && resi != "3conv") c.required("resi_connection").fail("expected 1conv or 3conv");
        cfg.three_conv = resi == "3conv";
        if (cfg.three_conv && cfg.embed_dim < 4) c.required("embed_dim").fail("3conv needs at least 4 channels");
        const auto up = c.string_or("upsampler", "pixelshuffle");
        if (up == "pixelshuffle") {
            cfg.upsampler = swin2sr_upsampler::pixelshuffle;
            if (cfg.upscale != 3 && (cfg.upscale & (cfg.upscale - 1)) != 0)
                c.required("upscale").fail("pixelshuffle takes a power of 2 or 3");
        } else if (up == "pixelshuffledirect") {
            cfg.upsampler = swin2sr_upsampler::pixelshuffledirect;
        } else if (up == "nearest+conv") {
            cfg.upsampler = swin2sr_upsampler::nearest_conv;
            if (cfg.upscale != 4) c.required("upscale").fail("nearest+conv takes only 4");
        } else if (up.empty()) {
            cfg.upsampler = swin2sr_upsampler::none;
        } else {
            c.required("upsampler").fail("\"" + up.substr(0, 40) +
                                         "\" is not supported (pixelshuffle, pixelshuffledirect, nearest+conv, or \"\")");
        }
    });
    return cfg;
}

swin2sr_config read_swin2sr_config(const std::filesystem::path& dir) {
    return parse_swin2sr_config(read_folder_file(dir / "config.json", max_config_bytes, true, "the model's configuration"));
}

} // namespace tether::agent::hf

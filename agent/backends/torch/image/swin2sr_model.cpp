#include "backends/torch/image/swin2sr_model.hpp"

#include "backends/hf/folder_error.hpp"
#include "backends/torch/lm/layers.hpp"

#include "tether/shared/log.hpp"

#include <fmt/format.h>

#include <cmath>

namespace tether::agent::image {
namespace {

using hf::swin2sr_upsampler;
using lm::linear;
using lm::norm;

struct conv {
    at::Tensor weight, bias;
    std::int64_t padding = 1;
    at::Tensor operator()(const at::Tensor& x) const { return at::conv2d(x, weight, bias, 1, padding); }
};

conv take_conv(lm::lm_weights& w, const std::string& name, std::int64_t out, std::int64_t in, std::int64_t kernel) {
    return {w.take(name + ".weight", {out, in, kernel, kernel}), w.take(name + ".bias", {out}), kernel / 2};
}

struct swin_layer {
    linear q, k, v, out, fc1, fc2;
    norm after_attention, after_mlp; // Swin V2: normalised after each block, before its residual
    at::Tensor scale;                // exp(clamp(logit_scale, max = log 100)) [heads, 1, 1]
    at::Tensor position_bias;        // 16·sigmoid(cpb_mlp(table))[index] [heads, N, N]
    std::int64_t heads = 1;
    bool shifted = false;
};

struct stage {
    std::vector<swin_layer> layers;
    std::vector<conv> convs; // 1conv: one 3×3; 3conv: 3×3 to dim/4, 1×1, 3×3 back (LeakyReLU 0.2 between)
    conv projection;         // the stage's patch embedding (1×1)
};

// The window's relative coordinates as Swin V2 feeds its position-bias MLP:
// each offset in [-(w-1), w-1] scaled to [-8, 8], then sign·log2(1+|x|)/3.
at::Tensor coords_table(std::int64_t window) {
    auto r = at::arange(-(window - 1), window, at::kFloat);
    if (window > 1) r = r / static_cast<double>(window - 1);
    r = r * 8.0;
    r = at::sign(r) * at::log2(at::abs(r) + 1.0) / 3.0;
    auto grid = at::meshgrid({r, r}, "ij");
    return at::stack({grid[0], grid[1]}, -1); // [2w-1, 2w-1, 2]
}

// Index of (i, j)'s relative offset in the table, for tokens i, j of a window.
at::Tensor relative_index(std::int64_t window) {
    auto c = at::arange(window, at::kLong);
    auto grid = at::meshgrid({c, c}, "ij");
    auto flat = at::stack({grid[0].flatten(), grid[1].flatten()}); // [2, N]
    auto rel = flat.unsqueeze(2) - flat.unsqueeze(1);              // [2, N, N]
    return (rel[0] + (window - 1)) * (2 * window - 1) + (rel[1] + (window - 1));
}

// [B, H, W, C] -> [B·nW, w·w, C]
at::Tensor partition(const at::Tensor& x, std::int64_t w) {
    const auto B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
    return x.view({B, H / w, w, W / w, w, C}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, w * w, C});
}

// [B·nW, w·w, C] -> [B, H, W, C]
at::Tensor merge(const at::Tensor& windows, std::int64_t w, std::int64_t H, std::int64_t W) {
    const auto C = windows.size(-1);
    return windows.view({-1, H / w, W / w, w, w, C}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, H, W, C});
}

// Pads [B, C, H, W] at the bottom and right to multiples of `m`, mirroring
// with the edge pixel repeated (numpy's "symmetric", as the image processor).
at::Tensor pad_symmetric(at::Tensor x, std::int64_t m) {
    auto pad_dim = [m](at::Tensor t, std::int64_t dim) {
        const auto n = t.size(dim);
        auto need = (m - n % m) % m;
        while (need > 0) { // a pad longer than the image reflects again
            const auto take = std::min(need, t.size(dim));
            t = at::cat({t, t.narrow(dim, t.size(dim) - take, take).flip({dim})}, dim);
            need -= take;
        }
        return t;
    };
    return pad_dim(pad_dim(std::move(x), 2), 3);
}

} // namespace

struct swin2sr_model::impl {
    const hf::swin2sr_config& cfg;
    at::Device device;
    at::ScalarType dtype;
    std::string stored;
    at::Tensor mean; // [1, 3, 1, 1]
    conv first, embed_projection, after_body;
    norm embed_norm, final_norm;
    std::vector<stage> stages;
    // heads
    conv before_upsample, final_conv, up1, up2, hr;
    std::vector<conv> upsample; // pixelshuffle: one per factor; pixelshuffledirect: one

    impl(const std::filesystem::path& dir, const hf::swin2sr_config& c, const lm::lm_load_options& o)
        : cfg(c), device(o.device), dtype(lm::compute_dtype(dir, o.device, o.dtype)) {
        lm::lm_weights w(dir, device, dtype);
        stored = w.stored_dtype();
        load(w);
        if (const auto unused = w.unused(); !unused.empty())
            log::warn("{}: {} tensor(s) this Swin2SR configuration does not use, such as {}", dir.filename().string(),
                      unused.size(), unused.front());
    }

    void load(lm::lm_weights& w) {
        const std::string p = w.has("swin2sr.first_convolution.weight") ? "swin2sr." : "";
        if (p.empty() && !w.has("first_convolution.weight"))
            throw hf::folder_error("model.safetensors: no swin2sr.first_convolution.weight: not a Swin2SR checkpoint");
        const auto d = cfg.embed_dim;
        mean = (cfg.num_channels == 3 ? at::tensor({0.4488F, 0.4371F, 0.4040F}) : at::zeros({3}))
                   .view({1, 3, 1, 1}).to(device, dtype);
        first = take_conv(w, p + "first_convolution", d, cfg.num_channels, 3);
        embed_projection = take_conv(w, p + "embeddings.patch_embeddings.projection", d, d, 1);
        embed_norm = lm::take_norm(w, p + "embeddings.patch_embeddings.layernorm", d, 1e-5);
        const auto table = coords_table(cfg.layer_window).to(device, dtype);
        const auto index = relative_index(cfg.layer_window).to(device);
        const auto N = cfg.layer_window * cfg.layer_window;
        for (std::size_t s = 0; s < cfg.depths.size(); ++s) {
            stage st;
            const auto heads = cfg.num_heads[s];
            for (std::int64_t i = 0; i < cfg.depths[s]; ++i) {
                const std::string q = fmt::format("{}encoder.stages.{}.layers.{}.", p, s, i);
                swin_layer l;
                l.heads = heads;
                l.shifted = i % 2 == 1 && cfg.shift > 0;
                l.q = lm::take_linear(w, q + "attention.self.query", d, d, cfg.qkv_bias);
                l.k = lm::take_linear(w, q + "attention.self.key", d, d, false);
                l.v = lm::take_linear(w, q + "attention.self.value", d, d, cfg.qkv_bias);
                l.out = lm::take_linear(w, q + "attention.output.dense", d, d);
                l.after_attention = lm::take_norm(w, q + "layernorm_before", d, cfg.norm_eps);
                l.fc1 = lm::take_linear(w, q + "intermediate.dense", cfg.mlp_hidden, d);
                l.fc2 = lm::take_linear(w, q + "output.dense", d, cfg.mlp_hidden);
                l.after_mlp = lm::take_norm(w, q + "layernorm_after", d, cfg.norm_eps);
                l.scale = at::clamp_max(w.take(q + "attention.self.logit_scale", {heads, 1, 1}), std::log(100.0)).exp();
                const auto cpb1 = lm::take_linear(w, q + "attention.self.continuous_position_bias_mlp.0", 512, 2);
                const auto cpb2 = lm::take_linear(w, q + "attention.self.continuous_position_bias_mlp.2", heads, 512, false);
                const auto bias_table = cpb2(at::relu(cpb1(table))).view({-1, heads}); // [(2w-1)², heads]
                l.position_bias = (16 * at::sigmoid(bias_table.index_select(0, index.flatten()).view({N, N, heads})))
                                      .permute({2, 0, 1}).contiguous();
                st.layers.push_back(std::move(l));
            }
            const std::string sp = fmt::format("{}encoder.stages.{}.", p, s);
            if (cfg.three_conv) {
                st.convs = {take_conv(w, sp + "conv.0", d / 4, d, 3), take_conv(w, sp + "conv.2", d / 4, d / 4, 1),
                            take_conv(w, sp + "conv.4", d, d / 4, 3)};
            } else {
                st.convs = {take_conv(w, sp + "conv", d, d, 3)};
            }
            st.projection = take_conv(w, sp + "patch_embed.projection", d, d, 1);
            stages.push_back(std::move(st));
        }
        final_norm = lm::take_norm(w, p + "layernorm", d, cfg.norm_eps);
        after_body = take_conv(w, p + "conv_after_body", d, d, 3);
        constexpr std::int64_t features = 64;
        switch (cfg.upsampler) {
        case swin2sr_upsampler::pixelshuffle:
            before_upsample = take_conv(w, "upsample.conv_before_upsample", features, d, 3);
            if (cfg.upscale == 3) {
                upsample.push_back(take_conv(w, "upsample.upsample.convolution", 9 * features, features, 3));
            } else {
                for (std::int64_t f = 0, s = cfg.upscale; s > 1; ++f, s /= 2)
                    upsample.push_back(take_conv(w, fmt::format("upsample.upsample.convolution_{}", f), 4 * features, features, 3));
            }
            final_conv = take_conv(w, "upsample.final_convolution", 3, features, 3);
            break;
        case swin2sr_upsampler::pixelshuffledirect:
            upsample.push_back(take_conv(w, "upsample.conv", cfg.upscale * cfg.upscale * 3, d, 3));
            break;
        case swin2sr_upsampler::nearest_conv:
            before_upsample = take_conv(w, "upsample.conv_before_upsample", features, d, 3);
            up1 = take_conv(w, "upsample.conv_up1", features, features, 3);
            up2 = take_conv(w, "upsample.conv_up2", features, features, 3);
            hr = take_conv(w, "upsample.conv_hr", features, features, 3);
            final_conv = take_conv(w, "upsample.final_convolution", 3, features, 3);
            break;
        case swin2sr_upsampler::none: final_conv = take_conv(w, "final_convolution", 3, d, 3); break;
        }
    }

    // The shifted windows' mask [nW, N, N]: 0 within a region, -100 across
    // (regions: the last window and shift rows/columns apart from the rest).
    at::Tensor shift_mask(std::int64_t H, std::int64_t W) const {
        const auto w = cfg.layer_window, s = cfg.shift;
        auto region = [&](std::int64_t n) {
            auto r = at::zeros({n}, at::kFloat);
            r.narrow(0, n - w, w - s).fill_(1);
            r.narrow(0, n - s, s).fill_(2);
            return r;
        };
        auto ids = (region(H).view({H, 1}) * 3 + region(W).view({1, W})).view({1, H, W, 1});
        auto windows = partition(ids, w).squeeze(-1); // [nW, N]
        auto diff = windows.unsqueeze(1) - windows.unsqueeze(2);
        return at::where(diff != 0, at::full({}, -100.0F), at::zeros({}, at::kFloat)).to(device, dtype);
    }

    at::Tensor attention(const swin_layer& l, const at::Tensor& windows, const at::Tensor& mask, std::int64_t B) const {
        const auto n = windows.size(1);
        auto split = [&](const at::Tensor& t) { return lm::heads_first(t, l.heads); }; // [B·nW, heads, N, hd]
        auto q = split(l.q(windows)), k = split(l.k(windows)), v = split(l.v(windows));
        q = q / at::clamp_min(q.norm(2, -1, true), 1e-12);
        k = k / at::clamp_min(k.norm(2, -1, true), 1e-12);
        auto scores = (at::matmul(q, k.transpose(-1, -2)) * l.scale + l.position_bias).to(at::kFloat);
        if (mask.defined()) {
            const auto nw = mask.size(0);
            // transformers adds the mask twice; -200 and -100 both vanish in the softmax, kept alike.
            auto m = mask.to(at::kFloat).unsqueeze(1).unsqueeze(0);
            scores = (scores.view({B, nw, l.heads, n, n}) + m + m).view({-1, l.heads, n, n});
        }
        return l.out(lm::heads_last(at::matmul(at::softmax(scores, -1).to(v.scalar_type()), v)));
    }

    at::Tensor layer(const swin_layer& l, const at::Tensor& x, std::int64_t H, std::int64_t W) const {
        const auto B = x.size(0), C = x.size(2), w = cfg.layer_window;
        auto h = x.view({B, H, W, C});
        const auto pad_h = (w - H % w) % w, pad_w = (w - W % w) % w;
        if (pad_h || pad_w) h = at::constant_pad_nd(h, {0, 0, 0, pad_w, 0, pad_h});
        const auto Hp = H + pad_h, Wp = W + pad_w;
        const auto s = l.shifted ? cfg.shift : 0;
        if (s) h = at::roll(h, {-s, -s}, {1, 2});
        const auto mask = s ? shift_mask(Hp, Wp) : at::Tensor();
        auto a = merge(attention(l, partition(h, w), mask, B), w, Hp, Wp);
        if (s) a = at::roll(a, {s, s}, {1, 2});
        if (pad_h || pad_w) a = a.narrow(1, 0, H).narrow(2, 0, W);
        auto y = x + l.after_attention(a.reshape({B, H * W, C}));
        return y + l.after_mlp(l.fc2(lm::activate(l.fc1(y), cfg.act)));
    }

    // [B, L, C] <-> [B, C, H, W]
    static at::Tensor to_image(const at::Tensor& t, std::int64_t H, std::int64_t W) {
        return t.transpose(1, 2).reshape({t.size(0), t.size(2), H, W});
    }
    static at::Tensor to_tokens(const at::Tensor& t) { return t.flatten(2).transpose(1, 2); }

    at::Tensor forward(const at::Tensor& pixels) const {
        const auto H = pixels.size(2), W = pixels.size(3);
        auto input = pad_symmetric(pixels.to(device, dtype), cfg.window_size);
        const auto Hp = input.size(2), Wp = input.size(3);
        auto x = (input - mean) * cfg.img_range;
        const auto shallow = first(x);
        auto h = embed_norm(to_tokens(embed_projection(shallow)));
        for (const auto& st : stages) {
            auto r = h;
            for (const auto& l : st.layers) h = layer(l, h, Hp, Wp);
            auto img = to_image(h, Hp, Wp);
            for (std::size_t i = 0; i < st.convs.size(); ++i) {
                img = st.convs[i](img);
                if (i + 1 < st.convs.size()) img = at::leaky_relu(img, 0.2);
            }
            h = to_tokens(st.projection(img)) + r;
        }
        const auto body = after_body(to_image(final_norm(h), Hp, Wp)) + shallow;
        at::Tensor out;
        switch (cfg.upsampler) {
        case swin2sr_upsampler::pixelshuffle: {
            out = at::leaky_relu(before_upsample(body), 0.01);
            const std::int64_t factor = cfg.upscale == 3 ? 3 : 2;
            for (const auto& c : upsample) out = at::pixel_shuffle(c(out), factor);
            out = final_conv(out);
            break;
        }
        case swin2sr_upsampler::pixelshuffledirect: out = at::pixel_shuffle(upsample.front()(body), cfg.upscale); break;
        case swin2sr_upsampler::nearest_conv: {
            out = at::leaky_relu(before_upsample(body), 0.01);
            auto twice = [](const at::Tensor& t) { return at::upsample_nearest2d(t, {t.size(2) * 2, t.size(3) * 2}); };
            out = at::leaky_relu(up1(twice(out)), 0.2);
            out = at::leaky_relu(up2(twice(out)), 0.2);
            out = final_conv(at::leaky_relu(hr(out), 0.2));
            break;
        }
        case swin2sr_upsampler::none:
            // transformers adds the input as it came (padded, not normalised).
            out = input + final_conv(body);
            break;
        }
        out = out / cfg.img_range + mean;
        const auto s = cfg.scale();
        return out.narrow(2, 0, H * s).narrow(3, 0, W * s);
    }
};

swin2sr_model::swin2sr_model(const std::filesystem::path& dir, const lm::lm_load_options& options)
    : config_(hf::read_swin2sr_config(dir)), device_(options.device), impl_(std::make_unique<impl>(dir, config_, options)) {}

swin2sr_model::~swin2sr_model() = default;

at::Tensor swin2sr_model::forward(const at::Tensor& pixels) const {
    if (pixels.dim() != 4 || pixels.size(1) != 3) throw std::invalid_argument("swin2sr: expected pixels [B, 3, H, W]");
    return impl_->forward(pixels);
}

std::string swin2sr_model::describe() const {
    const char* head = config_.upsampler == swin2sr_upsampler::pixelshuffle         ? "pixelshuffle"
                       : config_.upsampler == swin2sr_upsampler::pixelshuffledirect ? "pixelshuffledirect"
                       : config_.upsampler == swin2sr_upsampler::nearest_conv       ? "nearest+conv"
                                                                                     : "denoising";
    std::int64_t layers = 0;
    for (auto d : config_.depths) layers += d;
    return fmt::format("swin2sr ×{} ({}), {} stages, {} layers, width {}, window {}, {} stored, computed in {} on {}",
                       config_.scale(), head, config_.depths.size(), layers, config_.embed_dim, config_.layer_window,
                       impl_->stored, std::string(c10::toString(impl_->dtype)), device_.str());
}

} // namespace tether::agent::image

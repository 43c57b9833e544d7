#include "bench_request.hpp"

#include "backends/model/image_codec.hpp"
#include "backends/model/model_inputs.hpp"
#include "backends/model/wav.hpp"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <numbers>
#include <sstream>
#include <stdexcept>

namespace tether::bench {

namespace {

using agent::input_kind;
using agent::model_task;

agent::model_spec load_spec(const std::string& model) {
    const auto sidecar = agent::sidecar_path_for(model);
    std::ifstream in(sidecar, std::ios::binary);
    if (!in) throw std::runtime_error(fmt::format("{}: cannot read the sidecar", sidecar));
    std::ostringstream text;
    text << in.rdbuf();
    auto parsed = agent::parse_model_spec(text.str(), agent::model_stem(model));
    if (!parsed.spec) throw std::runtime_error(fmt::format("{}: {}", sidecar, parsed.error));
    return std::move(*parsed.spec);
}

// A picture with something to upscale: a colour gradient, a filled
// rectangle, a ring and thin stripes. The same for a given size.
agent::image_rgb test_picture(std::uint32_t size) {
    agent::image_rgb img;
    img.width = img.height = size;
    img.pixels.resize(static_cast<std::size_t>(size) * size * 3);
    const double c = size / 2.0, r = size / 4.0;
    for (std::uint32_t y = 0; y < size; ++y) {
        for (std::uint32_t x = 0; x < size; ++x) {
            auto* p = &img.pixels[(static_cast<std::size_t>(y) * size + x) * 3];
            p[0] = static_cast<std::uint8_t>(255 * x / size);
            p[1] = static_cast<std::uint8_t>(255 * y / size);
            p[2] = 128;
            if (x > size / 8 && x < size / 3 && y > size / 8 && y < size / 3) p[0] = p[1] = p[2] = 240;
            const double d = std::hypot(x - c, y - c);
            if (std::abs(d - r) < 1.5) p[0] = p[1] = p[2] = 20;
            if (y > size * 3 / 4 && x % 4 == 0) p[0] = p[1] = p[2] = 0;
        }
    }
    return img;
}

// One second of two tones and a little deterministic noise.
std::vector<float> test_tone(std::uint32_t rate) {
    std::vector<float> s(rate);
    std::uint32_t lcg = 12345;
    for (std::uint32_t i = 0; i < rate; ++i) {
        const double t = static_cast<double>(i) / rate;
        lcg = lcg * 1664525U + 1013904223U;
        const double noise = (static_cast<double>(lcg >> 8) / (1U << 24) - 0.5) * 0.1;
        s[i] = static_cast<float>(0.4 * std::sin(2 * std::numbers::pi * 440 * t) +
                                  0.2 * std::sin(2 * std::numbers::pi * 1250 * t) + noise);
    }
    return s;
}

template <typename T> T need(agent::prepared<T> p, const char* what) {
    if (!p.ok()) throw std::runtime_error(fmt::format("the agent refuses the bench's {}: {}", what, p.error.message));
    return std::move(*p.value);
}

void attach(agent::job& j, std::string name, std::string mime, std::string bytes) {
    agent::input_file f;
    f.field = "file";
    f.name = std::move(name);
    f.mime = std::move(mime);
    f.size = bytes.size();
    f.bytes = std::move(bytes);
    j.files.push_back(std::move(f));
}

void add_image(bench_request& r, std::uint32_t size, bool normalise) {
    attach(r.request, "bench.png", "image/png", agent::encode_png(test_picture(size)));
    r.what = fmt::format("PNG {}x{} ({} bytes)", size, size, r.request.files.front().size);
    auto img = need(agent::prepare_image(r.request, r.spec), "image");
    r.values = normalise ? agent::to_planar(img, r.spec.mean, r.spec.std) : agent::to_planar(img, {}, {});
    r.dims = {1, 3, img.height, img.width};
}

void add_audio(bench_request& r) {
    attach(r.request, "bench.wav", "audio/wav",
           agent::encode_wav_pcm16(test_tone(r.spec.sample_rate), r.spec.sample_rate));
    r.what = fmt::format("WAV 1 s at {} Hz ({} bytes)", r.spec.sample_rate, r.request.files.front().size);
    auto clip = need(agent::prepare_audio(r.request, r.spec), "audio");
    r.dims = {1, static_cast<std::int64_t>(clip.samples.size())};
    r.values = std::move(clip.samples);
}

} // namespace

bench_request make_bench_request(const torch_bench_options& o) {
    bench_request r;
    r.spec = load_spec(o.model);
    auto& j = r.request;
    j.request_id = "00000000-0000-4000-8000-00000000b0b0";
    j.space = bench_space;
    j.username = "bench";
    switch (r.spec.task) {
    case model_task::text_generation: {
        j.prompt = o.prompt.empty() ? "And God said" : o.prompt;
        j.params_json = fmt::format(R"({{"max_tokens":{},"seed":{}}})", o.max_tokens, o.seed);
        auto g = need(agent::prepare_generation(j, r.spec, o.seed), "prompt");
        r.tokens = std::move(g.prompt_tokens);
        r.dims = {1, static_cast<std::int64_t>(r.tokens.size())};
        r.what = fmt::format("prompt of {} bytes, {} tokens, seed {}", j.prompt.size(), g.max_tokens, g.seed);
        break;
    }
    case model_task::classification:
        if (r.spec.kind == input_kind::text) {
            j.prompt = o.prompt.empty() ? "std::vector<int> values{1, 2, 3};" : o.prompt;
            r.tokens = need(agent::prepare_text_tokens(j, r.spec), "prompt");
            r.dims = {1, static_cast<std::int64_t>(r.tokens.size())};
            r.what = fmt::format("prompt of {} bytes as {} tokens", j.prompt.size(), r.tokens.size());
        } else if (r.spec.kind == input_kind::image) {
            add_image(r, o.image, true);
        } else {
            add_audio(r);
        }
        break;
    case model_task::image:
    case model_task::video: // the bench times one forward: a video model's is one frame
        add_image(r, o.image, false);
        break;
    case model_task::audio:
        add_audio(r);
        break;
    case model_task::tensor:
        throw std::runtime_error(fmt::format("{}: tensor models are not driven by this bench", o.model));
    }
    return r;
}

} // namespace tether::bench

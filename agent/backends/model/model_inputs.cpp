#include "backends/model/model_inputs.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace tether::agent {

namespace {

input_error bad(std::string message) { return {"bad_input", std::move(message)}; }

template <typename T> prepared<T> refuse(std::string message) {
    prepared<T> p;
    p.error = bad(std::move(message));
    return p;
}

template <typename T> prepared<T> accept(T value) {
    prepared<T> p;
    p.value = std::move(value);
    return p;
}

// A whole number param in [lo, hi]; false with `error` set when present but wrong.
bool read_uint_param(simdjson::dom::object params, std::string_view key, std::uint64_t lo, std::uint64_t hi,
                     std::optional<std::uint64_t>& out, std::string& error) {
    simdjson::dom::element e;
    if (params.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return true;
    double d = 0;
    if (e.get(d) != simdjson::SUCCESS || std::floor(d) != d || d < static_cast<double>(lo) ||
        d > static_cast<double>(hi)) {
        error = fmt::format("params.{}: expected a whole number from {} to {}", key, lo, hi);
        return false;
    }
    out = static_cast<std::uint64_t>(d);
    return true;
}

} // namespace

prepared<generation_request> prepare_generation(const job& j, const model_spec& spec, std::uint64_t random_seed) {
    if (j.prompt.empty()) return refuse<generation_request>("this model needs a prompt, and the prompt is empty");
    if (j.prompt.size() > spec.max_prompt_bytes)
        return refuse<generation_request>(fmt::format("the prompt is {} bytes, over this model's limit of {} bytes",
                                                      j.prompt.size(), spec.max_prompt_bytes));
    generation_request g;
    g.max_tokens = spec.generation.max_tokens;
    g.sampling.temperature = spec.generation.temperature;
    g.sampling.top_k = spec.generation.top_k;
    g.seed = random_seed;

    simdjson::dom::parser parser;
    simdjson::padded_string padded(j.params_json.empty() ? std::string_view("{}") : std::string_view(j.params_json));
    simdjson::dom::object params;
    if (parser.parse(padded).get(params) != simdjson::SUCCESS)
        return refuse<generation_request>("params: expected a JSON object");
    std::string error;
    std::optional<std::uint64_t> max_tokens, top_k, seed;
    if (!read_uint_param(params, "max_tokens", 1, spec.max_tokens_limit, max_tokens, error) ||
        !read_uint_param(params, "top_k", 0, spec.vocab, top_k, error) ||
        !read_uint_param(params, "seed", 0, 1ULL << 53, seed, error))
        return refuse<generation_request>(error);
    if (max_tokens) g.max_tokens = static_cast<std::uint32_t>(*max_tokens);
    if (top_k) g.sampling.top_k = static_cast<std::uint32_t>(*top_k);
    if (seed) g.seed = *seed;
    simdjson::dom::element t;
    if (params.at_key("temperature").get(t) == simdjson::SUCCESS && !t.is_null()) {
        double d = 0;
        if (t.get(d) != simdjson::SUCCESS || !(d >= 0 && d <= 5))
            return refuse<generation_request>("params.temperature: expected a number from 0 to 5");
        g.sampling.temperature = d;
    }
    g.prompt_tokens.reserve(j.prompt.size());
    for (unsigned char c : j.prompt)
        g.prompt_tokens.push_back(c);
    return accept(std::move(g));
}

prepared<std::vector<std::int64_t>> prepare_text_tokens(const job& j, const model_spec& spec) {
    if (j.prompt.empty()) return refuse<std::vector<std::int64_t>>("this model classifies text: the prompt is empty");
    if (j.prompt.size() > spec.max_input_bytes)
        return refuse<std::vector<std::int64_t>>(
            fmt::format("the prompt is {} bytes, over this model's limit of {}", j.prompt.size(), spec.max_input_bytes));
    std::vector<std::int64_t> tokens(spec.length, 0);
    const std::size_t n = std::min<std::size_t>(spec.length, j.prompt.size());
    for (std::size_t i = 0; i < n; ++i)
        tokens[i] = static_cast<unsigned char>(j.prompt[i]);
    return accept(std::move(tokens));
}

prepared<std::string> first_file_bytes(const job& j, std::uint64_t max_bytes) {
    if (j.files.empty()) return refuse<std::string>("this model needs an uploaded file, and the request has none");
    const input_file& f = j.files.front();
    if (f.size > max_bytes)
        return refuse<std::string>(
            fmt::format("{} is {} bytes, over this model's limit of {} bytes", f.name, f.size, max_bytes));
    if (f.path.empty()) return accept(f.bytes);
    std::ifstream in(f.path, std::ios::binary);
    std::string bytes;
    bytes.resize(static_cast<std::size_t>(f.size));
    if (!in || !in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
        prepared<std::string> p;
        p.error = {"model_error", fmt::format("could not read the spooled upload {}", f.name)};
        return p;
    }
    return accept(std::move(bytes));
}

std::chrono::steady_clock::time_point media_deadline(const job& j) {
    using namespace std::chrono;
    const auto now = steady_clock::now();
    if (!j.deadline) return now + seconds(60);
    // Decoding gets most of what is left before the broker gives up, never
    // all of it: the model needs the rest. At least a second, so that a
    // request close to its deadline still says why it failed.
    const auto left = duration_cast<steady_clock::duration>(*j.deadline - system_clock::now());
    return now + std::max<steady_clock::duration>(seconds(1), left * 3 / 4);
}

prepared<audio_format> prepare_audio_format(const job& j) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(j.params_json.empty() ? std::string_view("{}") : std::string_view(j.params_json));
    simdjson::dom::object params;
    if (parser.parse(padded).get(params) != simdjson::SUCCESS) return refuse<audio_format>("params: expected a JSON object");
    for (const char* key : {"response_format", "format"}) {
        simdjson::dom::element e;
        if (params.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) continue;
        std::string_view name;
        if (e.get(name) != simdjson::SUCCESS)
            return refuse<audio_format>(fmt::format("params.{}: expected \"wav\", \"mp3\" or \"opus\"", key));
        auto f = parse_audio_format(name);
        if (!f)
            return refuse<audio_format>(
                fmt::format("params.{}: \"{}\" is not an audio format this model writes (wav, mp3, opus)", key, name.substr(0, 40)));
        return accept(*f);
    }
    return accept(audio_format::wav);
}

prepared<audio_clip> prepare_audio(const job& j, const model_spec& spec) {
    auto bytes = first_file_bytes(j, spec.max_input_bytes);
    if (!bytes.ok()) return {std::nullopt, bytes.error};
    const bool classify = spec.task == model_task::classification;
    media_limits limits;
    limits.deadline = media_deadline(j);
    if (classify) {
        // Only the first spec.samples samples are read: decode just those
        // (and a little more for the resampler), whatever the file's length.
        limits.truncate = true;
        limits.max_seconds = (spec.samples + 2.0) / spec.sample_rate;
    } else {
        limits.max_seconds = spec.max_seconds;
    }
    auto decoded = decode_audio(*bytes.value, spec.sample_rate, limits);
    if (!decoded.clip) return refuse<audio_clip>(fmt::format("{}: {}", j.files.front().name, decoded.error));
    audio_clip clip = std::move(*decoded.clip);
    if (classify) clip.samples.resize(spec.samples, 0.0F);
    return accept(std::move(clip));
}

prepared<image_rgb> prepare_image(const job& j, const model_spec& spec) {
    auto bytes = first_file_bytes(j, spec.max_input_bytes);
    if (!bytes.ok()) return {std::nullopt, bytes.error};
    image_limits limits;
    if (spec.task == model_task::image) {
        limits.max_width = spec.max_width;
        limits.max_height = spec.max_height;
        limits.max_pixels = static_cast<std::uint64_t>(spec.max_width) * spec.max_height;
    } else {
        limits.max_width = 16384;
        limits.max_height = 16384;
        limits.max_pixels = spec.max_pixels;
    }
    auto decoded = decode_image(*bytes.value, limits);
    if (!decoded.image) return refuse<image_rgb>(fmt::format("{}: {}", j.files.front().name, decoded.error));
    if (spec.task == model_task::classification)
        return accept(resize_bilinear(*decoded.image, spec.width, spec.height));
    return accept(std::move(*decoded.image));
}

std::vector<float> to_planar(const image_rgb& img, const std::vector<double>& mean, const std::vector<double>& std) {
    const std::size_t plane = static_cast<std::size_t>(img.width) * img.height;
    std::vector<float> out(plane * 3);
    for (std::size_t c = 0; c < 3; ++c) {
        const double m = c < mean.size() ? mean[c] : 0.0;
        const double s = c < std.size() ? std[c] : 1.0;
        for (std::size_t i = 0; i < plane; ++i)
            out[c * plane + i] = static_cast<float>((img.pixels[i * 3 + c] / 255.0 - m) / s);
    }
    return out;
}

image_rgb from_planar(const float* chw, std::uint32_t width, std::uint32_t height) {
    image_rgb img;
    img.width = width;
    img.height = height;
    const std::size_t plane = static_cast<std::size_t>(width) * height;
    img.pixels.resize(plane * 3);
    for (std::size_t c = 0; c < 3; ++c)
        for (std::size_t i = 0; i < plane; ++i) {
            float v = chw[c * plane + i];
            if (!(v >= 0.0F)) v = 0.0F; // NaN too
            if (v > 1.0F) v = 1.0F;
            img.pixels[i * 3 + c] = static_cast<std::uint8_t>(std::lround(v * 255.0F));
        }
    return img;
}

prepared<tensor_value> prepare_tensor(const job& j, const model_spec& spec) {
    if (j.prompt.empty())
        return refuse<tensor_value>("this model takes a JSON array in the prompt, and the prompt is empty");
    auto parsed = parse_tensor_json(j.prompt, spec.max_elements);
    if (!parsed.tensor) return refuse<tensor_value>("prompt: " + parsed.error);
    if (auto mismatch = check_shape(parsed.tensor->shape, spec.input_shape); !mismatch.empty())
        return refuse<tensor_value>("prompt: " + mismatch);
    if (spec.dtype == tensor_dtype::int64) {
        for (double v : parsed.tensor->values)
            if (std::floor(v) != v || std::fabs(v) > 9.0e15)
                return refuse<tensor_value>("prompt: this model takes whole numbers (int64)");
    }
    return accept(std::move(*parsed.tensor));
}

} // namespace tether::agent

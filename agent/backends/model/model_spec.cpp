#include "backends/model/model_spec.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

namespace tether::agent {

namespace {

// Thrown inside the parser only; parse_model_spec turns it into the error text.
struct spec_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

using simdjson::dom::element;
using simdjson::dom::object;

// A section ("input", "output", ...) that may be absent: every member of an
// absent section takes its default.
using section_t = std::optional<object>;

std::optional<element> member(const section_t& o, std::string_view key) {
    element e;
    if (!o || o->at_key(key).get(e) != simdjson::SUCCESS) return std::nullopt;
    return e;
}

section_t section(const section_t& root, std::string_view key) {
    auto e = member(root, key);
    if (!e) return std::nullopt;
    object o;
    if (e->get(o) != simdjson::SUCCESS) throw spec_error(fmt::format("{}: expected an object", key));
    return o;
}

std::uint64_t uint_in(const section_t& o, std::string_view section_name, std::string_view key, std::uint64_t lo,
                      std::uint64_t hi, std::uint64_t fallback, bool required = false) {
    auto e = member(o, key);
    if (!e) {
        if (required) throw spec_error(fmt::format("{}.{}: required", section_name, key));
        return fallback;
    }
    double d = 0;
    if (e->get(d) != simdjson::SUCCESS || std::floor(d) != d || d < static_cast<double>(lo) ||
        d > static_cast<double>(hi))
        throw spec_error(fmt::format("{}.{}: expected a whole number from {} to {}", section_name, key, lo, hi));
    return static_cast<std::uint64_t>(d);
}

double number_in(const section_t& o, std::string_view section_name, std::string_view key, double lo, double hi,
                 double fallback) {
    auto e = member(o, key);
    if (!e) return fallback;
    double d = 0;
    if (e->get(d) != simdjson::SUCCESS || !(d >= lo && d <= hi))
        throw spec_error(fmt::format("{}.{}: expected a number from {} to {}", section_name, key, lo, hi));
    return d;
}

std::string string_of(const section_t& o, std::string_view section_name, std::string_view key, std::string fallback,
                      bool required = false) {
    auto e = member(o, key);
    if (!e) {
        if (required) throw spec_error(fmt::format("{}{}: required", section_name, key));
        return fallback;
    }
    std::string_view s;
    if (e->get(s) != simdjson::SUCCESS) throw spec_error(fmt::format("{}{}: expected a string", section_name, key));
    return std::string(s);
}

std::vector<std::int64_t> shape_of(const section_t& o, std::string_view section_name) {
    auto e = member(o, "shape");
    if (!e) throw spec_error(fmt::format("{}.shape: required (an array of sizes, -1 = any)", section_name));
    simdjson::dom::array a;
    if (e->get(a) != simdjson::SUCCESS || a.size() > 8)
        throw spec_error(fmt::format("{}.shape: expected an array of at most 8 sizes", section_name));
    std::vector<std::int64_t> out;
    for (element v : a) {
        double d = 0;
        if (v.get(d) != simdjson::SUCCESS || std::floor(d) != d || (d < 1 && d != -1) || d > (1 << 24))
            throw spec_error(fmt::format("{}.shape: sizes are positive whole numbers or -1", section_name));
        out.push_back(static_cast<std::int64_t>(d));
    }
    return out;
}

std::vector<double> numbers_of(const section_t& o, std::string_view section_name, std::string_view key, std::size_t count,
                               double fallback) {
    auto e = member(o, key);
    if (!e) return std::vector<double>(count, fallback);
    simdjson::dom::array a;
    if (e->get(a) != simdjson::SUCCESS || a.size() != count)
        throw spec_error(fmt::format("{}.{}: expected an array of {} numbers (one per channel)", section_name, key,
                                     count));
    std::vector<double> out;
    for (element v : a) {
        double d = 0;
        if (v.get(d) != simdjson::SUCCESS || !std::isfinite(d))
            throw spec_error(fmt::format("{}.{}: expected numbers", section_name, key));
        out.push_back(d);
    }
    return out;
}

model_task task_of(std::string_view t) {
    if (t == "text-generation") return model_task::text_generation;
    if (t == "classification") return model_task::classification;
    if (t == "audio") return model_task::audio;
    if (t == "image") return model_task::image;
    if (t == "video") return model_task::video;
    if (t == "tensor") return model_task::tensor;
    throw spec_error(fmt::format("task: '{}' is not one of text-generation, classification, audio, image, video, tensor", t));
}

void read_text_generation(const section_t& root, model_spec& s) {
    auto in = section(root, "input");
    auto out = section(root, "output");
    auto gen = section(root, "generation");
    auto lim = section(root, "limits");
    s.context = static_cast<std::uint32_t>(uint_in(in, "input", "context", 1, 65536, 128));
    s.vocab = static_cast<std::uint32_t>(uint_in(out, "output", "vocab", 256, 256, 256));
    s.max_prompt_bytes = static_cast<std::uint32_t>(uint_in(lim, "limits", "max_prompt_bytes", 1, 1 << 20, 4096));
    s.max_tokens_limit = static_cast<std::uint32_t>(uint_in(lim, "limits", "max_tokens", 1, 1 << 20, 1024));
    s.generation.max_tokens =
        static_cast<std::uint32_t>(
        uint_in(gen, "generation", "max_tokens", 1, s.max_tokens_limit, std::min<std::uint32_t>(200, s.max_tokens_limit)));
    s.generation.temperature = number_in(gen, "generation", "temperature", 0, 5, 0.8);
    s.generation.top_k = static_cast<std::uint32_t>(uint_in(gen, "generation", "top_k", 0, s.vocab, 40));
}

void read_classification(const section_t& root, model_spec& s) {
    auto in = section(root, "input");
    auto out = section(root, "output");
    auto lim = section(root, "limits");
    auto kind = string_of(in, "input.", "kind", "", true);
    if (kind == "text") {
        s.kind = input_kind::text;
        s.length = static_cast<std::uint32_t>(uint_in(in, "input", "length", 1, 1 << 20, 128));
    } else if (kind == "audio") {
        s.kind = input_kind::audio;
        s.sample_rate = static_cast<std::uint32_t>(uint_in(in, "input", "sample_rate", 1, 384000, 0, true));
        s.samples = static_cast<std::uint32_t>(uint_in(in, "input", "samples", 1, 1 << 26, 0, true));
    } else if (kind == "image") {
        s.kind = input_kind::image;
        s.width = static_cast<std::uint32_t>(uint_in(in, "input", "width", 1, 8192, 0, true));
        s.height = static_cast<std::uint32_t>(uint_in(in, "input", "height", 1, 8192, 0, true));
        s.channels = static_cast<std::uint32_t>(uint_in(in, "input", "channels", 3, 3, 3));
        s.mean = numbers_of(in, "input", "mean", s.channels, 0.0);
        s.std = numbers_of(in, "input", "std", s.channels, 1.0);
        for (double d : s.std)
            if (d == 0) throw spec_error("input.std: must not be 0");
    } else {
        throw spec_error(fmt::format("input.kind: '{}' is not one of text, audio, image", kind));
    }
    auto labels = member(out, "labels");
    simdjson::dom::array a;
    if (!labels || labels->get(a) != simdjson::SUCCESS || a.size() == 0 || a.size() > 100000)
        throw spec_error("output.labels: required, a non-empty array of strings");
    for (element v : a) {
        std::string_view l;
        if (v.get(l) != simdjson::SUCCESS) throw spec_error("output.labels: expected strings");
        s.labels.emplace_back(l);
    }
    s.top = static_cast<std::uint32_t>(uint_in(out, "output", "top", 1, 100000, 5));
    s.max_input_bytes = uint_in(lim, "limits", "max_input_bytes", 1, 1ULL << 40, 64ULL << 20);
    s.max_pixels = uint_in(lim, "limits", "max_pixels", 1, 1ULL << 32, 16ULL << 20);
}

void read_audio(const section_t& root, model_spec& s) {
    auto in = section(root, "input");
    auto out = section(root, "output");
    auto lim = section(root, "limits");
    s.sample_rate = static_cast<std::uint32_t>(uint_in(in, "input", "sample_rate", 1, 384000, 0, true));
    s.output_sample_rate =
        static_cast<std::uint32_t>(uint_in(out, "output", "sample_rate", 1, 384000, s.sample_rate));
    s.max_seconds = number_in(lim, "limits", "max_seconds", 0.001, 3600, 30);
    s.max_input_bytes = uint_in(lim, "limits", "max_input_bytes", 1, 1ULL << 40, 256ULL << 20);
}

// The frame contract image and video share: RGB in, `scale` times larger
// out, within max_width x max_height; the defaults are each task's.
struct frame_defaults {
    std::uint64_t min_side, max_side, width, height, input_bytes;
};

void read_frames(const section_t& root, model_spec& s, const frame_defaults& d) {
    auto in = section(root, "input");
    auto out = section(root, "output");
    auto lim = section(root, "limits");
    s.channels = static_cast<std::uint32_t>(uint_in(in, "input", "channels", 3, 3, 3));
    s.scale = static_cast<std::uint32_t>(uint_in(out, "output", "scale", 1, 16, 1));
    s.max_width = static_cast<std::uint32_t>(uint_in(lim, "limits", "max_width", d.min_side, d.max_side, d.width));
    s.max_height = static_cast<std::uint32_t>(uint_in(lim, "limits", "max_height", d.min_side, d.max_side, d.height));
    s.max_pixels = static_cast<std::uint64_t>(s.max_width) * s.max_height;
    s.max_input_bytes = uint_in(lim, "limits", "max_input_bytes", 1, 1ULL << 40, d.input_bytes);
}

void read_image(const section_t& root, model_spec& s) { read_frames(root, s, {1, 16384, 1024, 1024, 64ULL << 20}); }

// An image model run over a video's frames: the image task's contract per
// frame (at most 8192 a side, even for H.264), with the video's own limits.
void read_video(const section_t& root, model_spec& s) {
    read_frames(root, s, {2, 8192, 1280, 720, 256ULL << 20});
    auto in = section(root, "input");
    auto lim = section(root, "limits");
    s.frame_batch = static_cast<std::uint32_t>(uint_in(in, "input", "batch", 1, 256, 4));
    s.max_seconds = number_in(lim, "limits", "max_seconds", 0.001, 3600, 60);
    s.max_frames = uint_in(lim, "limits", "max_frames", 1, 1U << 20, 1800);
}

void read_tensor(const section_t& root, model_spec& s) {
    auto in = section(root, "input");
    auto out = section(root, "output");
    auto lim = section(root, "limits");
    s.input_shape = shape_of(in, "input");
    s.output_shape = shape_of(out, "output");
    auto dtype = string_of(in, "input.", "dtype", "float32");
    if (dtype == "float32")
        s.dtype = tensor_dtype::float32;
    else if (dtype == "int64")
        s.dtype = tensor_dtype::int64;
    else
        throw spec_error(fmt::format("input.dtype: '{}' is not float32 or int64", dtype));
    s.max_elements = uint_in(lim, "limits", "max_elements", 1, 1ULL << 28, 1ULL << 20);
}

} // namespace

const char* to_string(model_task t) {
    switch (t) {
    case model_task::text_generation: return "text-generation";
    case model_task::classification: return "classification";
    case model_task::audio: return "audio";
    case model_task::image: return "image";
    case model_task::video: return "video";
    case model_task::tensor: return "tensor";
    }
    return "?";
}

const char* to_string(input_kind k) {
    switch (k) {
    case input_kind::text: return "text";
    case input_kind::audio: return "audio";
    case input_kind::image: return "image";
    }
    return "?";
}

bool model_spec::batchable() const {
    return task == model_task::classification || task == model_task::image || task == model_task::tensor;
}

model_spec_result parse_model_spec(std::string_view json, const std::string& default_name) {
    model_spec_result r;
    simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    element doc;
    if (auto err = parser.parse(padded).get(doc)) {
        r.error = fmt::format("not valid JSON ({})", simdjson::error_message(err));
        return r;
    }
    try {
        object root_object;
        if (doc.get(root_object) != simdjson::SUCCESS) throw spec_error("expected a JSON object");
        const section_t root = root_object;
        model_spec s;
        s.name = string_of(root, "", "name", default_name);
        if (s.name.empty() || s.name.size() > 128) throw spec_error("name: 1 to 128 characters");
        s.description = string_of(root, "", "description", "");
        s.task = task_of(string_of(root, "", "task", "", true));
        switch (s.task) {
        case model_task::text_generation: read_text_generation(root, s); break;
        case model_task::classification: read_classification(root, s); break;
        case model_task::audio: read_audio(root, s); break;
        case model_task::image: read_image(root, s); break;
        case model_task::video: read_video(root, s); break;
        case model_task::tensor: read_tensor(root, s); break;
        }
        r.spec = std::move(s);
    } catch (const spec_error& e) {
        r.error = e.what();
    }
    return r;
}

std::string sidecar_path_for(const std::string& model_path) {
    std::filesystem::path p(model_path);
    if (p.extension() == ".pt") return p.replace_extension(".json").string();
    return model_path + ".json";
}

std::string model_stem(const std::string& model_path) {
    return std::filesystem::path(model_path).stem().string();
}

} // namespace tether::agent

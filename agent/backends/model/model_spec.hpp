#pragma once
// A model's sidecar (NAME.json beside NAME.pt), parsed and range-checked into
// a plain struct: the contract of docs/models.md. Torch-free, so the contract
// is tested without libtorch; checking the module against it is the torch
// backend's job (a dry run at start).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent {

enum class model_task { text_generation, classification, audio, image, video, tensor };
enum class input_kind { text, audio, image };
enum class tensor_dtype { float32, int64 };

const char* to_string(model_task t);
const char* to_string(input_kind k);

struct generation_defaults {
    std::uint32_t max_tokens = 200;
    double temperature = 0.8;
    std::uint32_t top_k = 40;
};

struct model_spec {
    std::string name;
    model_task task = model_task::tensor;
    std::string description;

    // text-generation
    std::uint32_t context = 128;
    std::uint32_t vocab = 256;
    generation_defaults generation;
    std::uint32_t max_prompt_bytes = 4096;
    std::uint32_t max_tokens_limit = 1024;

    // classification (kind text/audio/image); audio and image tasks reuse
    // sample_rate / channels.
    input_kind kind = input_kind::text;
    std::uint32_t length = 128;         // text: tokens per item
    std::uint32_t sample_rate = 16000;  // audio in (classification, audio)
    std::uint32_t samples = 16000;      // classification audio: samples per item
    std::uint32_t width = 0, height = 0; // classification image size
    std::uint32_t channels = 3;
    std::vector<double> mean, std;      // per channel (classification image)
    std::vector<std::string> labels;
    std::uint32_t top = 5;
    std::uint64_t max_input_bytes = 64ULL << 20;
    std::uint64_t max_pixels = 16ULL << 20;

    // audio
    std::uint32_t output_sample_rate = 16000;
    double max_seconds = 30;

    // image (and video: each frame)
    std::uint32_t scale = 1;
    std::uint32_t max_width = 1024, max_height = 1024;

    // video: frames per forward call, at most this many frames
    std::uint32_t frame_batch = 4;
    std::uint64_t max_frames = 1800;

    // tensor
    std::vector<std::int64_t> input_shape, output_shape; // -1 = any size
    tensor_dtype dtype = tensor_dtype::float32;
    std::uint64_t max_elements = 1ULL << 20;

    // Whether requests of the same shape may share one forward call.
    bool batchable() const;
};

struct model_spec_result {
    std::optional<model_spec> spec;
    std::string error; // "input.sample_rate: expected a positive integer"
};

// `default_name` is used when the sidecar has no "name" (the file's stem).
model_spec_result parse_model_spec(std::string_view json, const std::string& default_name);

// models/tiny-lm.pt -> models/tiny-lm.json; a path without ".pt" gets ".json" appended.
std::string sidecar_path_for(const std::string& model_path);
// models/tiny-lm.pt -> tiny-lm
std::string model_stem(const std::string& model_path);

} // namespace tether::agent

#pragma once
// Turns a job (prompt, params, uploaded files) into the plain numbers a model
// declared in its sidecar wants, and refuses what does not fit with a message
// the user can act on. Torch-free: the torch backend only copies these
// vectors into tensors. Everything here reads hostile input.

#include "backends/backend.hpp"
#include "backends/model/image_codec.hpp"
#include "backends/model/model_spec.hpp"
#include "backends/model/tensor_json.hpp"
#include "backends/model/token_sampler.hpp"
#include "backends/model/media.hpp"
#include "backends/model/wav.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tether::agent {

// A refusal of the request: becomes a `failed` result with this code.
struct input_error {
    std::string code = "bad_input";
    std::string message;
};

template <typename T> struct prepared {
    std::optional<T> value;
    input_error error;
    bool ok() const { return value.has_value(); }
};

struct generation_request {
    std::vector<std::int64_t> prompt_tokens; // bytes of the prompt
    std::uint32_t max_tokens = 0;
    sampling_params sampling;
    std::uint64_t seed = 0;
};

// Prompt and params (max_tokens, temperature, top_k, seed) against the
// sidecar's defaults and limits. `random_seed` is used when params have no seed.
prepared<generation_request> prepare_generation(const job& j, const model_spec& spec, std::uint64_t random_seed);

// classification, kind text: the prompt's bytes truncated / zero-padded to spec.length.
prepared<std::vector<std::int64_t>> prepare_text_tokens(const job& j, const model_spec& spec);

// The first uploaded file's bytes (memory or spooled file), at most `max_bytes`.
prepared<std::string> first_file_bytes(const job& j, std::uint64_t max_bytes);

// An audio upload in any format decode_audio reads, mixed to mono and
// resampled to spec.sample_rate; audio task: at most spec.max_seconds;
// classification: truncated / padded to spec.samples. Decoding stops at
// media_deadline(j).
prepared<audio_clip> prepare_audio(const job& j, const model_spec& spec);

// The format an audio output is asked for: params.response_format (OpenAI's
// name) or params.format, "wav" (the default), "mp3" or "opus".
prepared<audio_format> prepare_audio_format(const job& j);

// When decoding a job's media must be done: three quarters of the time left
// before its deadline (at least a second), or a minute when it has none.
std::chrono::steady_clock::time_point media_deadline(const job& j);

// An image upload as 8-bit RGB: image task within max_width x max_height;
// classification: within max_pixels, then resized to width x height.
prepared<image_rgb> prepare_image(const job& j, const model_spec& spec);

// Planar float CHW in [0, 1], then (x - mean[c]) / std[c] when given.
std::vector<float> to_planar(const image_rgb& img, const std::vector<double>& mean, const std::vector<double>& std);
// Planar float CHW (clamped to [0, 1]) back to 8-bit RGB.
image_rgb from_planar(const float* chw, std::uint32_t width, std::uint32_t height);

// tensor task: the prompt as a JSON array matching spec.input_shape.
prepared<tensor_value> prepare_tensor(const job& j, const model_spec& spec);

} // namespace tether::agent

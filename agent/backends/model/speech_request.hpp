#pragma once
// A speech-recognition job for a Whisper model, read into what the engine
// runs: the audio (a WAV upload, mono, resampled to 16 kHz, within the
// agent's --max-audio-seconds) and the decoding options from params —
// language (an ISO 639-1 code the model knows, or "auto"/absent to detect),
// task (transcribe, translate), timestamps, temperature, seed and prompt
// (or the request's prompt field). Torch-free; everything here reads hostile input.

#include "backends/backend.hpp"
#include "backends/hf/whisper_config.hpp"
#include "backends/model/model_inputs.hpp"
#include "backends/model/whisper_decoding.hpp"

#include <cstdint>
#include <string>

namespace tether::agent {

struct speech_request {
    audio_clip audio;
    whisper::decode_options options;
    std::string prompt; // text the first window is conditioned on
};

struct speech_limits {
    std::uint32_t max_seconds = 3600;
    std::size_t max_prompt_bytes = 16U << 10;
};

// A refusal is bad_input naming the file or the parameter.
prepared<speech_request> prepare_speech(const job& j, const hf::whisper_config& config, const speech_limits& limits,
                                        std::uint64_t random_seed);

} // namespace tether::agent

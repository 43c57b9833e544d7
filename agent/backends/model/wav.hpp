#pragma once
// WAV in and out for the torch backend: decode an uploaded RIFF/WAVE file to
// mono floats, resample it, and write model output back as 16-bit PCM. Input
// is a hostile upload: everything is bounded and errors are values; no torch.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent {

// Mono samples in [-1, 1] at sample_rate.
struct audio_clip {
    std::uint32_t sample_rate = 0;
    std::vector<float> samples;
};

struct wav_decode_result {
    std::optional<audio_clip> clip;
    std::string error; // a human message when !clip
};

// The highest sample rate decode_wav accepts.
inline constexpr std::uint32_t max_wav_sample_rate = 384000;
// The most channels decode_wav accepts (mixed to mono by averaging).
inline constexpr std::uint32_t max_wav_channels = 16;

// Decodes RIFF/WAVE: PCM 8-bit (unsigned), 16/24/32-bit (signed) and IEEE
// float 32/64-bit, as format 1, 3 or WAVE_FORMAT_EXTENSIBLE with those
// subformats; 1 to 16 channels, averaged to mono. Unknown chunks are skipped
// (odd sizes padded). A data chunk whose size is 0 or more than the file
// holds (streaming writers put 0 or 0xFFFFFFFF there; truncated uploads) is
// read to the end of the file, rounded down to whole frames. Float samples are clamped to [-1, 1]
// and NaN becomes 0. Refuses (with the reason in error): not RIFF/WAVE, no fmt
// or data chunk, compressed formats, a sample rate of 0 or over 384000, more
// than max_frames frames, and a data chunk with no whole frame.
wav_decode_result decode_wav(std::string_view bytes, std::uint64_t max_frames);

// Linear-interpolation resampling with sample centres aligned (like torch's
// interpolate(mode="linear", align_corners=False)). from == to returns the
// input; the output has round(n * to / from) samples; a rate of 0 gives {}.
std::vector<float> resample_linear(const std::vector<float>& in, std::uint32_t from_rate, std::uint32_t to_rate);

// A 16-bit PCM mono WAV file. Samples are clamped to [-1, 1] (NaN -> 0) and
// scaled by 32768 (+1.0 becomes 32767), the inverse of decode_wav. Past the
// 4 GiB a RIFF size can describe, samples are dropped.
std::string encode_wav_pcm16(const std::vector<float>& samples, std::uint32_t sample_rate);

} // namespace tether::agent

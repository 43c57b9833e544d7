#pragma once
// Audio and video through FFmpeg's libraries (libavformat, libavcodec,
// libswresample, libswscale): every container and codec they decode, probed
// from the bytes, never from a file name. Inputs are hostile uploads: the
// demuxers are a fixed list of media containers (no playlists, no nested
// URLs, no image sequences), limits are checked from the container's headers
// before anything is decoded and again while decoding (headers lie), and all
// work runs under a time budget. Errors are values with a message a user can
// act on. Torch-free: the torch backend hands frames to its models through a
// callback.

#include "backends/model/image_codec.hpp"
#include "backends/model/wav.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent {

struct media_limits {
    // The longest audio or video accepted: a header that claims more is
    // refused before decoding, and decoding stops there.
    double max_seconds = 30;
    // Keep the first max_seconds of a longer input instead of refusing it
    // (audio classification reads a fixed window).
    bool truncate = false;
    std::uint32_t max_sample_rate = 384000;
    std::uint32_t max_channels = 16;
    // Decoded bytes of all frames together, before mixing and resampling
    // (audio) or conversion (video): what a highly compressed file may cost.
    std::uint64_t max_decoded_bytes = 2ULL << 30;
    // Decoding past this point is refused (the request's deadline less a margin).
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct audio_decode_result {
    std::optional<audio_clip> clip; // mono, at the rate asked for (or the file's own)
    std::string error;              // a human message when !clip
    std::string container;          // FFmpeg's name of what was probed ("mp3", "ogg", "wav" …)
    std::string codec;              // "mp3", "opus", "pcm_s16le" … ("" when refused early)
    double seconds = 0;             // decoded duration (before truncation)
    bool truncated = false;         // limits.truncate cut it to max_seconds
};

// RIFF....WAVE: what decode_audio sends to decode_wav (faster: no probing).
bool looks_like_wav(std::string_view bytes);

// The first audio stream of `bytes`, decoded, mixed to mono (the channels'
// average, as decode_wav) and resampled with libswresample to `rate`. WAV
// files decode_wav reads go through it (then resample_linear); any other
// WAV (ADPCM, mu-law …) through FFmpeg. Refuses, naming the problem: nothing
// FFmpeg recognises, no audio stream, an undecodable codec, a sample rate
// or channel count over the limits, a header duration over max_seconds, more
// decoded than the limits allow, a file cut short (its header promises more
// than decodes), a badly damaged stream, and no samples at all.
audio_decode_result decode_audio(std::string_view bytes, std::uint32_t rate, const media_limits& limits);

// Audio out: WAV (16-bit PCM), MP3 (libmp3lame) or Opus in Ogg (libopus).
enum class audio_format { wav, mp3, opus };
// "wav", "mp3", "opus" (also "ogg"); nullopt for anything else.
std::optional<audio_format> parse_audio_format(std::string_view name);
struct encoded_audio {
    std::string bytes;
    std::string error; // when bytes is empty
    std::string mime;  // audio/wav, audio/mpeg, audio/ogg
    std::string extension;
    std::uint32_t sample_rate = 0; // the file's (MP3 and Opus take a rate they support)
};
encoded_audio encode_audio(const std::vector<float>& samples, std::uint32_t rate, audio_format format);

// An audio file (any format decode_audio reads) as `format`, mono, at its
// own rate (or `rate` when not 0; MP3 and Opus round it to one they take).
// A file that already is `format` at that rate comes back unchanged
// (`converted` false): WAV means 16-bit mono PCM, MP3 an MP3 stream, Opus
// Opus in Ogg. `error` names why not (the input's fault when `bad_input`).
struct converted_audio {
    std::string bytes;
    std::string error;
    bool bad_input = false;
    bool converted = false;
    std::string mime, extension;
    std::string from; // what it was: "mp3 in mp3", "pcm_s16le in wav" …
    std::uint32_t sample_rate = 0;
};
converted_audio convert_audio(std::string_view bytes, audio_format format, std::uint32_t rate, const media_limits& limits);

// Video in, video out.
struct video_limits {
    media_limits media;
    std::uint32_t max_width = 1920, max_height = 1080; // per input frame
    std::uint64_t max_frames = 10000;
};

struct video_progress {
    std::uint64_t frames_done = 0;
    std::uint64_t frames_total = 0; // the header's estimate; 0 when unknown
};

// Maps a batch of decoded RGB frames to output frames of one size (the same
// count, in order). An error text stops the transcode with it.
using video_frame_fn = std::function<std::optional<std::string>(std::vector<image_rgb>& frames)>;

struct video_result {
    std::string mp4;   // the encoded file; empty on error
    std::string error; // a human message when mp4 is empty
    bool bad_input = true; // the error is the input's (else the model's or ours)
    bool cancelled = false;
    std::uint64_t frames = 0;
    std::uint32_t width = 0, height = 0; // of the output
    double seconds = 0;
    std::string video_codec;  // "h264" (libx264) or the fallback's name
    std::string audio;        // "copied (aac)", "none", or why it was left out
};

// Decodes the first video stream of `bytes`, hands its frames to `process`
// in batches of `batch`, and encodes what comes back to MP4 (H.264 by
// libx264, yuv420p, so odd output sizes lose their last row or column; MPEG-4
// part 2 when the build has no H.264 encoder) with the source's timestamps,
// and the source's first audio track copied when MP4 can hold its codec.
// `progress` is called after each batch; `cancelled` is asked between
// batches. Limits: the frame size and duration from the headers first, then
// frames, duration, decoded bytes and the deadline while decoding.
video_result transcode_video(std::string_view bytes, const video_limits& limits, std::uint32_t batch,
                             const video_frame_fn& process, const std::function<void(const video_progress&)>& progress,
                             const std::function<bool()>& cancelled);

} // namespace tether::agent

#include "backends/model/wav.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace tether::agent {
namespace {

constexpr std::uint16_t format_pcm = 1;
constexpr std::uint16_t format_float = 3;
constexpr std::uint16_t format_extensible = 0xFFFE;

// The 14 bytes after the 2-byte format code in every KSDATAFORMAT_SUBTYPE_*
// GUID that wraps a plain format tag ({xxxx0000-0000-0010-8000-00aa00389b71}).
constexpr unsigned char subformat_guid_tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                                   0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

std::uint16_t read_u16(const unsigned char* p) {
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

std::uint32_t read_u32(const unsigned char* p) {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

void put_u16(std::string& out, std::uint16_t v) {
    out.push_back(static_cast<char>(v & 0xFF));
    out.push_back(static_cast<char>(v >> 8));
}

void put_u32(std::string& out, std::uint32_t v) {
    for (int shift = 0; shift < 32; shift += 8)
        out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

struct wav_format {
    std::uint16_t code = 0; // the format tag, or the extensible subformat
    std::uint16_t channels = 0;
    std::uint32_t sample_rate = 0;
    std::uint16_t block_align = 0;
    std::uint16_t bits = 0; // container bits per sample
};

// Parses a fmt chunk body, or returns the reason it cannot be used.
std::string parse_fmt(const unsigned char* p, std::size_t size, wav_format& f) {
    if (size < 16) return "WAV fmt chunk is too short";
    f.code = read_u16(p);
    f.channels = read_u16(p + 2);
    f.sample_rate = read_u32(p + 4);
    f.block_align = read_u16(p + 12);
    f.bits = read_u16(p + 14);
    if (f.code == format_extensible) {
        if (size < 40) return "WAV extensible fmt chunk is too short";
        if (std::memcmp(p + 26, subformat_guid_tail, sizeof subformat_guid_tail) != 0)
            return "WAV extensible subformat is not supported; use PCM or float";
        f.code = read_u16(p + 24);
    }
    return {};
}

// Checks the format is one decode_wav reads; returns the refusal otherwise.
std::string check_format(const wav_format& f) {
    if (f.code != format_pcm && f.code != format_float)
        return fmt::format("WAV format {} (compressed) is not supported; use PCM or float", f.code);
    if (f.code == format_pcm && f.bits != 8 && f.bits != 16 && f.bits != 24 && f.bits != 32)
        return fmt::format("WAV PCM with {} bits per sample is not supported; use 8, 16, 24 or 32", f.bits);
    if (f.code == format_float && f.bits != 32 && f.bits != 64)
        return fmt::format("WAV float with {} bits per sample is not supported; use 32 or 64", f.bits);
    if (f.channels < 1 || f.channels > max_wav_channels)
        return fmt::format("WAV has {} channels; 1 to {} are supported", f.channels, max_wav_channels);
    if (f.sample_rate == 0 || f.sample_rate > max_wav_sample_rate)
        return fmt::format("WAV sample rate {} Hz is out of range (1 to {})", f.sample_rate, max_wav_sample_rate);
    const unsigned frame_bytes = f.channels * (f.bits / 8u);
    // 0 is tolerated (some writers leave it unset); any other value that is
    // not one frame means a layout this decoder would misread.
    if (f.block_align != 0 && f.block_align != frame_bytes)
        return fmt::format("WAV block align {} does not match {} channels of {} bits", f.block_align, f.channels,
                           f.bits);
    return {};
}

float clean(double v) {
    if (std::isnan(v)) return 0.0f;
    return static_cast<float>(std::clamp(v, -1.0, 1.0));
}

// One sample in [-1, 1] from its little-endian bytes.
float read_sample(const unsigned char* p, const wav_format& f) {
    if (f.code == format_float) {
        if (f.bits == 32) {
            const std::uint32_t u = read_u32(p);
            float v;
            std::memcpy(&v, &u, sizeof v);
            return clean(v);
        }
        const std::uint64_t u = static_cast<std::uint64_t>(read_u32(p)) | (std::uint64_t{read_u32(p + 4)} << 32);
        double v;
        std::memcpy(&v, &u, sizeof v);
        return clean(v);
    }
    switch (f.bits) {
    case 8:
        return static_cast<float>(static_cast<int>(p[0]) - 128) / 128.0f;
    case 16:
        return static_cast<float>(static_cast<std::int16_t>(read_u16(p))) / 32768.0f;
    case 24: {
        // Place the 24 bits at the top of an int32 so the sign comes along.
        const auto top =
            static_cast<std::int32_t>(static_cast<std::uint32_t>(p[0]) << 8 | static_cast<std::uint32_t>(p[1]) << 16 |
                                      static_cast<std::uint32_t>(p[2]) << 24);
        return static_cast<float>(static_cast<double>(top) / 2147483648.0);
    }
    default:
        return static_cast<float>(static_cast<double>(static_cast<std::int32_t>(read_u32(p))) / 2147483648.0);
    }
}

wav_decode_result fail(std::string why) {
    return {std::nullopt, std::move(why)};
}

} // namespace

wav_decode_result decode_wav(std::string_view bytes, std::uint64_t max_frames) {
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t size = bytes.size();
    if (size < 12 || std::memcmp(data, "RIFF", 4) != 0 || std::memcmp(data + 8, "WAVE", 4) != 0)
        return fail("not a WAV file");

    // The RIFF size is ignored: streaming writers leave it wrong, and the
    // bytes we were given are the real bound.
    wav_format format;
    bool have_fmt = false;
    const unsigned char* samples = nullptr;
    std::size_t sample_bytes = 0;
    std::size_t pos = 12;
    while (size - pos >= 8) {
        const unsigned char* header = data + pos;
        const std::uint32_t chunk_size = read_u32(header + 4);
        const std::size_t body = pos + 8;
        const std::size_t available = size - body;
        if (std::memcmp(header, "fmt ", 4) == 0) {
            if (chunk_size > available) return fail("WAV fmt chunk is truncated");
            if (auto why = parse_fmt(data + body, chunk_size, format); !why.empty()) return fail(std::move(why));
            have_fmt = true;
        } else if (std::memcmp(header, "data", 4) == 0) {
            samples = data + body;
            if (chunk_size == 0 || chunk_size > available) {
                // Streamed (size 0 or 0xFFFFFFFF) or truncated: everything
                // up to the end of the file is audio.
                sample_bytes = available;
                break;
            }
            sample_bytes = chunk_size;
            if (have_fmt) break; // a fmt after the data is legal but rare; keep looking only then
        }
        // Chunks are padded to even sizes; a chunk running past the end ends the walk.
        const std::uint64_t next = std::uint64_t{body} + chunk_size + (chunk_size & 1u);
        if (next > size) break;
        pos = static_cast<std::size_t>(next);
    }
    if (!have_fmt) return fail("WAV has no fmt chunk");
    if (samples == nullptr) return fail("WAV has no data chunk");
    if (auto why = check_format(format); !why.empty()) return fail(std::move(why));

    const std::size_t sample_size = format.bits / 8u;
    const std::size_t frame_size = format.channels * sample_size;
    const std::uint64_t frames = sample_bytes / frame_size;
    if (frames == 0) return fail("WAV has no audio samples");
    if (frames > max_frames)
        return fail(fmt::format("audio is longer than {} samples (it has {}, {:.1f} s at {} Hz)", max_frames, frames,
                                static_cast<double>(frames) / format.sample_rate, format.sample_rate));

    audio_clip clip;
    clip.sample_rate = format.sample_rate;
    clip.samples.resize(static_cast<std::size_t>(frames)); // frames <= bytes.size(): bounded by the upload
    const double scale = 1.0 / format.channels;
    for (std::size_t i = 0; i < frames; ++i) {
        const unsigned char* frame = samples + i * frame_size;
        double sum = 0.0;
        for (std::size_t c = 0; c < format.channels; ++c)
            sum += read_sample(frame + c * sample_size, format);
        clip.samples[i] = static_cast<float>(sum * scale);
    }
    return {std::move(clip), {}};
}

std::vector<float> resample_linear(const std::vector<float>& in, std::uint32_t from_rate, std::uint32_t to_rate) {
    if (from_rate == 0 || to_rate == 0) return {};
    if (from_rate == to_rate || in.empty()) return in;
    const std::uint64_t n = in.size();
    const std::uint64_t out_n = (n * to_rate + from_rate / 2) / from_rate;
    std::vector<float> out(static_cast<std::size_t>(out_n));
    const double step = static_cast<double>(from_rate) / to_rate;
    const std::size_t last = in.size() - 1;
    for (std::size_t i = 0; i < out.size(); ++i) {
        // Output sample i is centred at input position (i + 0.5) * step - 0.5.
        const double src = std::max(0.0, (static_cast<double>(i) + 0.5) * step - 0.5);
        const std::size_t i0 = std::min(static_cast<std::size_t>(src), last);
        const std::size_t i1 = std::min(i0 + 1, last);
        const double t = std::min(src - static_cast<double>(i0), 1.0);
        out[i] = static_cast<float>(in[i0] + (in[i1] - in[i0]) * t);
    }
    return out;
}

std::string encode_wav_pcm16(const std::vector<float>& samples, std::uint32_t sample_rate) {
    // The RIFF size (data + 36) must fit in 32 bits.
    constexpr std::size_t max_samples = (std::numeric_limits<std::uint32_t>::max() - 36u) / 2u;
    const std::size_t count = std::min(samples.size(), max_samples);
    const auto data_bytes = static_cast<std::uint32_t>(count * 2);

    std::string out;
    out.reserve(44 + std::size_t{data_bytes});
    out.append("RIFF");
    put_u32(out, 36 + data_bytes);
    out.append("WAVEfmt ");
    put_u32(out, 16);
    put_u16(out, format_pcm);
    put_u16(out, 1); // mono
    put_u32(out, sample_rate);
    put_u32(out, sample_rate * 2u); // byte rate
    put_u16(out, 2);                // block align
    put_u16(out, 16);
    out.append("data");
    put_u32(out, data_bytes);
    for (std::size_t i = 0; i < count; ++i) {
        // Scaled by 32768 like the decoder, so a round trip is exact to half
        // a step; +1.0 lands one step short, on 32767.
        const long v = std::min(std::lround(clean(samples[i]) * 32768.0f), 32767L);
        put_u16(out, static_cast<std::uint16_t>(static_cast<std::int16_t>(v)));
    }
    return out;
}

} // namespace tether::agent

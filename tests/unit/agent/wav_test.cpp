// WAV decoding of hostile uploads (formats, channel mixing, chunk walking,
// refusals, truncation), 16-bit PCM encoding, and linear resampling. The WAVs
// are built byte by byte here so each test says exactly what the file holds.

#include "backends/model/wav.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>

using namespace tether::agent;

namespace {

void put16(std::string& s, std::uint32_t v) {
    s.push_back(static_cast<char>(v & 0xFF));
    s.push_back(static_cast<char>((v >> 8) & 0xFF));
}

void put24(std::string& s, std::uint32_t v) {
    put16(s, v & 0xFFFF);
    s.push_back(static_cast<char>((v >> 16) & 0xFF));
}

void put32(std::string& s, std::uint32_t v) {
    put16(s, v & 0xFFFF);
    put16(s, v >> 16);
}

void put_float(std::string& s, float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    put32(s, u);
}

void put_double(std::string& s, double d) {
    std::uint64_t u;
    std::memcpy(&u, &d, sizeof u);
    put32(s, static_cast<std::uint32_t>(u));
    put32(s, static_cast<std::uint32_t>(u >> 32));
}

// A chunk with its header; odd bodies get their pad byte unless told not to.
std::string chunk(std::string_view id, std::string_view body, std::uint32_t declared = 0xFFFFFFFE, bool pad = true) {
    std::string s(id);
    put32(s, declared == 0xFFFFFFFE ? static_cast<std::uint32_t>(body.size()) : declared);
    s.append(body);
    if (pad && body.size() % 2 == 1) s.push_back('\0');
    return s;
}

std::string fmt_body(std::uint32_t format, std::uint32_t channels, std::uint32_t rate, std::uint32_t bits) {
    std::string s;
    put16(s, format);
    put16(s, channels);
    put32(s, rate);
    put32(s, rate * channels * bits / 8);
    put16(s, channels * bits / 8);
    put16(s, bits);
    return s;
}

// WAVE_FORMAT_EXTENSIBLE with subformat `sub` in the standard GUID.
std::string extensible_body(std::uint32_t sub, std::uint32_t channels, std::uint32_t rate, std::uint32_t bits) {
    std::string s = fmt_body(0xFFFE, channels, rate, bits);
    put16(s, 22);   // cbSize
    put16(s, bits); // valid bits
    put32(s, channels == 2 ? 3 : 4);
    put16(s, sub);
    const unsigned char tail[14] = {0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71};
    s.append(reinterpret_cast<const char*>(tail), sizeof tail);
    return s;
}

std::string riff(const std::string& chunks) {
    std::string s = "RIFF";
    put32(s, static_cast<std::uint32_t>(4 + chunks.size()));
    return s + "WAVE" + chunks;
}

std::string wav(std::uint32_t format, std::uint32_t channels, std::uint32_t rate, std::uint32_t bits,
                const std::string& data) {
    return riff(chunk("fmt ", fmt_body(format, channels, rate, bits)) + chunk("data", data));
}

std::string pcm16(std::initializer_list<int> values) {
    std::string s;
    for (int v : values)
        put16(s, static_cast<std::uint32_t>(static_cast<std::uint16_t>(static_cast<std::int16_t>(v))));
    return s;
}

constexpr std::uint64_t lots = 1u << 20;

std::vector<float> decoded(const std::string& bytes, std::uint32_t expected_rate = 8000) {
    auto r = decode_wav(bytes, lots);
    INFO(r.error);
    REQUIRE(r.clip);
    CHECK(r.error.empty());
    CHECK(r.clip->sample_rate == expected_rate);
    return r.clip->samples;
}

std::string refusal(const std::string& bytes, std::uint64_t max_frames = lots) {
    auto r = decode_wav(bytes, max_frames);
    CHECK_FALSE(r.clip);
    return r.error;
}

} // namespace

TEST_CASE("a WAV from encode_wav_pcm16 decodes back to the same samples", "[wav]") {
    std::vector<float> in;
    for (int i = 0; i < 1000; ++i)
        in.push_back(static_cast<float>(std::sin(i * 0.05) * 0.9));
    const std::string bytes = encode_wav_pcm16(in, 22050);
    CHECK(bytes.size() == 44 + 2 * in.size());
    const auto out = decoded(bytes, 22050);
    REQUIRE(out.size() == in.size());
    for (std::size_t i = 0; i < in.size(); ++i)
        CHECK(out[i] == Approx(in[i]).margin(0.5 / 32768));
}

TEST_CASE("encode_wav_pcm16 clamps to [-1, 1] and writes NaN as silence", "[wav]") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const auto out = decoded(encode_wav_pcm16({2.0f, -3.0f, nan, inf, 1.0f, -1.0f, 0.0f}, 8000));
    CHECK(out == std::vector<float>{32767 / 32768.0f, -1.0f, 0.0f, 32767 / 32768.0f, 32767 / 32768.0f, -1.0f, 0.0f});
}

TEST_CASE("8-bit PCM is unsigned around 128", "[wav]") {
    CHECK(decoded(wav(1, 1, 8000, 8, std::string("\x00\x80\xFF\x40", 4))) ==
          std::vector<float>{-1.0f, 0.0f, 127 / 128.0f, -0.5f});
}

TEST_CASE("16-bit PCM is signed and scaled by 32768", "[wav]") {
    CHECK(decoded(wav(1, 1, 8000, 16, pcm16({0, 16384, -32768, 32767}))) ==
          std::vector<float>{0.0f, 0.5f, -1.0f, 32767 / 32768.0f});
}

TEST_CASE("24-bit PCM keeps its sign", "[wav]") {
    std::string data;
    for (std::uint32_t v : {0x400000u, 0x800000u, 0xFFFFFFu, 0x7FFFFFu, 0xC00000u})
        put24(data, v);
    const auto out = decoded(wav(1, 1, 8000, 24, data));
    REQUIRE(out.size() == 5);
    CHECK(out[0] == 0.5f);
    CHECK(out[1] == -1.0f);
    CHECK(out[2] == Approx(-1.0 / 8388608));
    CHECK(out[3] == Approx(1.0).margin(1e-6));
    CHECK(out[4] == -0.5f);
}

TEST_CASE("32-bit PCM is signed and scaled by 2^31", "[wav]") {
    std::string data;
    for (std::uint32_t v : {0x40000000u, 0x80000000u, 0xE0000000u, 0u})
        put32(data, v);
    CHECK(decoded(wav(1, 1, 8000, 32, data)) == std::vector<float>{0.5f, -1.0f, -0.25f, 0.0f});
}

TEST_CASE("float WAVs (32 and 64-bit) are clamped to [-1, 1] with NaN as 0", "[wav]") {
    std::string f32;
    for (float f : {0.25f, -0.75f, 3.0f, -2.0f, std::numeric_limits<float>::quiet_NaN()})
        put_float(f32, f);
    CHECK(decoded(wav(3, 1, 8000, 32, f32)) == std::vector<float>{0.25f, -0.75f, 1.0f, -1.0f, 0.0f});

    std::string f64;
    for (double d : {0.5, -1.5})
        put_double(f64, d);
    CHECK(decoded(wav(3, 1, 8000, 64, f64)) == std::vector<float>{0.5f, -1.0f});
}

TEST_CASE("channels are averaged to mono, up to 16 of them", "[wav]") {
    // Stereo frames: (0.5, -0.5), (0.5, 0.25), (-1, -1).
    CHECK(decoded(wav(1, 2, 8000, 16, pcm16({16384, -16384, 16384, 8192, -32768, -32768}))) ==
          std::vector<float>{0.0f, 0.375f, -1.0f});

    std::string sixteen; // one frame, channel c holds c * 1024
    for (int c = 0; c < 16; ++c)
        put16(sixteen, static_cast<std::uint32_t>(c * 1024));
    const auto out = decoded(wav(1, 16, 8000, 16, sixteen));
    REQUIRE(out.size() == 1);
    CHECK(out[0] == Approx(7.5 * 1024 / 32768));

    CHECK(refusal(wav(1, 17, 8000, 16, sixteen + pcm16({0}))) == "WAV has 17 channels; 1 to 16 are supported");
    CHECK(refusal(wav(1, 0, 8000, 16, sixteen)) == "WAV has 0 channels; 1 to 16 are supported");
}

TEST_CASE("WAVE_FORMAT_EXTENSIBLE with a PCM or float subformat decodes", "[wav]") {
    const std::string pcm =
        riff(chunk("fmt ", extensible_body(1, 2, 8000, 16)) + chunk("data", pcm16({16384, 0, -16384, -16384})));
    CHECK(decoded(pcm) == std::vector<float>{0.25f, -0.5f});

    std::string f32;
    put_float(f32, -0.125f);
    CHECK(decoded(riff(chunk("fmt ", extensible_body(3, 1, 8000, 32)) + chunk("data", f32))) ==
          std::vector<float>{-0.125f});
}

TEST_CASE("unknown chunks are skipped, odd sizes with their pad byte", "[wav]") {
    const std::string bytes =
        riff(chunk("LIST", "abc") + chunk("fmt ", fmt_body(1, 1, 8000, 16)) + chunk("fact", "12345") +
             chunk("data", pcm16({16384, -16384})) + chunk("id3 ", "tail"));
    CHECK(decoded(bytes) == std::vector<float>{0.5f, -0.5f});
}

TEST_CASE("a data chunk before the fmt chunk still decodes", "[wav]") {
    const std::string bytes = riff(chunk("data", pcm16({8192})) + chunk("fmt ", fmt_body(1, 1, 8000, 16)));
    CHECK(decoded(bytes) == std::vector<float>{0.25f});
}

TEST_CASE("a streamed data size (0 or 0xFFFFFFFF) means the rest of the file", "[wav]") {
    for (std::uint32_t declared : {0u, 0xFFFFFFFFu}) {
        const std::string bytes =
            riff(chunk("fmt ", fmt_body(1, 1, 8000, 16)) + chunk("data", pcm16({8192, 16384}), declared));
        CHECK(decoded(bytes) == std::vector<float>{0.25f, 0.5f});
    }
}

TEST_CASE("a truncated data chunk keeps its whole frames and drops the partial one", "[wav]") {
    std::string bytes = wav(1, 2, 8000, 16, pcm16({16384, 16384, 8192, 8192, 100, 100}));
    bytes.resize(bytes.size() - 3); // the last frame loses 3 of its 4 bytes
    CHECK(decoded(bytes) == std::vector<float>{0.5f, 0.25f});
}

TEST_CASE("anything that is not RIFF/WAVE is not a WAV file", "[wav]") {
    CHECK(refusal("") == "not a WAV file");
    CHECK(refusal("RIFF") == "not a WAV file");
    std::string avi = "RIFF";
    put32(avi, 4);
    CHECK(refusal(avi + "AVI ") == "not a WAV file");
    CHECK(refusal("\x89PNG\r\n\x1a\n0000000000000000") == "not a WAV file");
}

TEST_CASE("a WAV without a fmt or data chunk is refused", "[wav]") {
    CHECK(refusal(riff(chunk("data", pcm16({1, 2})))) == "WAV has no fmt chunk");
    CHECK(refusal(riff(chunk("fmt ", fmt_body(1, 1, 8000, 16)))) == "WAV has no data chunk");
    CHECK(refusal(riff("")) == "WAV has no fmt chunk");
    CHECK(refusal(riff(chunk("fmt ", "short"))) == "WAV fmt chunk is too short");
}

TEST_CASE("compressed WAV formats are refused by number", "[wav]") {
    CHECK(refusal(wav(85, 1, 8000, 0, "mp3 frames here")) ==
          "WAV format 85 (compressed) is not supported; use PCM or float");
    CHECK(refusal(riff(chunk("fmt ", extensible_body(2, 1, 8000, 4)) + chunk("data", "adpcm!"))) ==
          "WAV format 2 (compressed) is not supported; use PCM or float");
    std::string odd_guid = extensible_body(1, 1, 8000, 16);
    odd_guid.back() = 'x';
    CHECK(refusal(riff(chunk("fmt ", odd_guid) + chunk("data", pcm16({1})))) ==
          "WAV extensible subformat is not supported; use PCM or float");
}

TEST_CASE("unusual sample sizes and layouts are refused", "[wav]") {
    CHECK(refusal(wav(1, 1, 8000, 12, pcm16({1}))) ==
          "WAV PCM with 12 bits per sample is not supported; use 8, 16, 24 or 32");
    CHECK(refusal(wav(3, 1, 8000, 16, pcm16({1}))) ==
          "WAV float with 16 bits per sample is not supported; use 32 or 64");
    std::string body = fmt_body(1, 2, 8000, 16);
    body[12] = 6; // block align 6 for 2 x 16-bit
    CHECK(refusal(riff(chunk("fmt ", body) + chunk("data", pcm16({1, 2, 3})))) ==
          "WAV block align 6 does not match 2 channels of 16 bits");
}

TEST_CASE("a sample rate of 0 or over 384000 Hz is refused", "[wav]") {
    CHECK(refusal(wav(1, 1, 0, 16, pcm16({1}))) == "WAV sample rate 0 Hz is out of range (1 to 384000)");
    CHECK(refusal(wav(1, 1, 384001, 16, pcm16({1}))) == "WAV sample rate 384001 Hz is out of range (1 to 384000)");
    CHECK(decode_wav(wav(1, 1, 384000, 16, pcm16({1})), lots).clip);
}

TEST_CASE("audio longer than max_frames is refused before it is decoded", "[wav]") {
    const std::string bytes = wav(1, 2, 2, 16, pcm16({1, 1, 2, 2, 3, 3, 4, 4, 5, 5}));
    CHECK(decode_wav(bytes, 5).clip);
    CHECK(refusal(bytes, 4) == "audio is longer than 4 samples (it has 5, 2.5 s at 2 Hz)");
}

TEST_CASE("a data chunk with no whole frame is refused", "[wav]") {
    CHECK(refusal(wav(1, 2, 8000, 16, pcm16({1}))) == "WAV has no audio samples");
    CHECK(refusal(wav(1, 1, 8000, 16, "")) == "WAV has no audio samples");
}

TEST_CASE("every prefix of a valid WAV decodes or is refused, never crashes", "[wav]") {
    const std::string full = riff(chunk("LIST", "x") + chunk("fmt ", extensible_body(1, 2, 8000, 24)) +
                                  chunk("data", std::string(60, '\x11')));
    for (std::size_t n = 0; n <= full.size(); ++n) {
        auto r = decode_wav(std::string_view(full).substr(0, n), lots);
        INFO("prefix " << n);
        CHECK(r.clip.has_value() != !r.error.empty());
        if (r.clip) CHECK(r.clip->samples.size() <= 10);
    }
    CHECK(decode_wav(full, lots).clip->samples.size() == 10);
}

TEST_CASE("WAVs with random bytes overwritten decode or are refused, never crash", "[wav]") {
    const std::string good = riff(chunk("fmt ", fmt_body(1, 2, 8000, 16)) + chunk("data", std::string(64, 'a')));
    std::uint32_t state = 12345;
    auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    };
    for (int i = 0; i < 5000; ++i) {
        std::string bad = good;
        for (int k = 0; k < 3; ++k)
            bad[next() % 48] = static_cast<char>(next() & 0xFF); // headers and the first samples
        auto r = decode_wav(bad, 1000);
        CHECK(r.clip.has_value() != !r.error.empty());
        if (r.clip) {
            CHECK(r.clip->samples.size() <= bad.size());
            for (float s : r.clip->samples)
                CHECK((s >= -1.0f && s <= 1.0f));
        }
    }
}

TEST_CASE("resampling gives round(n * to / from) samples", "[wav]") {
    const std::vector<float> hundred(100, 0.5f);
    CHECK(resample_linear(hundred, 16000, 8000).size() == 50);
    CHECK(resample_linear(hundred, 44100, 16000).size() == 36); // 36.28
    CHECK(resample_linear(hundred, 48000, 44100).size() == 92); // 91.875
    CHECK(resample_linear({1, 2, 3}, 8000, 16000).size() == 6);
    CHECK(resample_linear({1}, 3, 2).size() == 1); // 0.67 rounds up
    CHECK(resample_linear(hundred, 44100, 16000) == std::vector<float>(36, 0.5f));
}

TEST_CASE("resampling at the same rate returns the input, a zero rate nothing", "[wav]") {
    const std::vector<float> in{0.1f, -0.2f, 0.3f};
    CHECK(resample_linear(in, 16000, 16000) == in);
    CHECK(resample_linear({}, 8000, 16000).empty());
    CHECK(resample_linear(in, 0, 16000).empty());
    CHECK(resample_linear(in, 16000, 0).empty());
}

TEST_CASE("a ramp resampled 2x up stays a ramp, and 2x down averages pairs", "[wav]") {
    std::vector<float> ramp;
    for (int i = 0; i < 50; ++i)
        ramp.push_back(static_cast<float>(i) / 100.0f);

    const auto up = resample_linear(ramp, 8000, 16000);
    REQUIRE(up.size() == 100);
    // Sample centres align: output i sits at input (i + 0.5) / 2 - 0.5; the
    // first and last are held at the ends.
    CHECK(up.front() == ramp.front());
    CHECK(up.back() == ramp.back());
    for (std::size_t i = 1; i + 1 < up.size(); ++i)
        CHECK(up[i] == Approx((i * 0.5 - 0.25) / 100.0).margin(1e-6));

    const auto down = resample_linear(ramp, 16000, 8000);
    REQUIRE(down.size() == 25);
    for (std::size_t i = 0; i < down.size(); ++i)
        CHECK(down[i] == Approx((2 * i + 0.5) / 100.0).margin(1e-6));
}

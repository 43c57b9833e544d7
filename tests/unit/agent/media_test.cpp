// The FFmpeg media layer against files Debian's `ffmpeg` command makes from
// one synthetic signal: every common audio format decoded, mixed to mono and
// resampled, compared sample by sample with the signal itself (an analytic
// reference, not the code under test) within an SNR fit for each codec;
// hostile files refused with their reason; audio encoded back to MP3 and
// Opus; and video through a frame callback to MP4 with its audio kept.

#include "backends/model/media.hpp"
#include "backends/model/model_inputs.hpp"
#include "testkit/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

using namespace tether::agent;

namespace {

constexpr double pi = 3.14159265358979323846;
constexpr std::uint32_t source_rate = 44100;

// The two channels of the source; the mono reference is their average.
double left(double t) { return 0.4 * std::sin(2 * pi * 440 * t) + 0.15 * std::sin(2 * pi * 1250 * t); }
double right(double t) { return 0.3 * std::sin(2 * pi * 660 * t + 0.5); }
double mono(double t) { return 0.5 * (left(t) + right(t)); }

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, std::string_view bytes) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void put16(std::string& s, std::uint32_t v) { s += static_cast<char>(v & 0xFF), s += static_cast<char>((v >> 8) & 0xFF); }
void put32(std::string& s, std::uint32_t v) { put16(s, v & 0xFFFF), put16(s, v >> 16); }

// A 16-bit stereo WAV of the signal.
std::string stereo_wav(double seconds) {
    const auto frames = static_cast<std::uint32_t>(seconds * source_rate);
    std::string data;
    for (std::uint32_t i = 0; i < frames; ++i) {
        const double t = static_cast<double>(i) / source_rate;
        put16(data, static_cast<std::uint16_t>(static_cast<std::int16_t>(std::lround(left(t) * 32767))));
        put16(data, static_cast<std::uint16_t>(static_cast<std::int16_t>(std::lround(right(t) * 32767))));
    }
    std::string w = "RIFF";
    put32(w, 36 + static_cast<std::uint32_t>(data.size()));
    w += "WAVEfmt ";
    put32(w, 16), put16(w, 1), put16(w, 2), put32(w, source_rate), put32(w, source_rate * 4), put16(w, 4), put16(w, 16);
    w += "data";
    put32(w, static_cast<std::uint32_t>(data.size()));
    return w + data;
}

// Runs Debian's ffmpeg quietly; true when it succeeded.
bool ffmpeg(const std::string& args) {
    return std::system(("ffmpeg -nostdin -hide_banner -loglevel error -y " + args).c_str()) == 0;
}

struct snr_fit {
    double db = -1e9;
    int lag = 0;
};

// The best SNR of `got` against the reference over lags in [-max_lag, max_lag],
// leaving out the first and last 0.1 s (codec edges). Sample i is the signal
// at i / rate + shift seconds.
snr_fit snr_against_signal(const std::vector<float>& got, std::uint32_t rate, int max_lag = 64, double shift = 0) {
    snr_fit best;
    const auto edge = static_cast<std::ptrdiff_t>(rate / 10);
    const auto n = static_cast<std::ptrdiff_t>(got.size());
    for (int lag = -max_lag; lag <= max_lag; ++lag) {
        double signal = 0, noise = 0;
        for (std::ptrdiff_t i = edge; i < n - edge; ++i) {
            const double ref = mono(static_cast<double>(i - lag) / rate + shift);
            const double d = got[static_cast<std::size_t>(i)] - ref;
            signal += ref * ref;
            noise += d * d;
        }
        const double db = 10 * std::log10(signal / std::max(noise, 1e-30));
        if (db > best.db) best = {db, lag};
    }
    return best;
}

media_limits limits_of(double seconds) {
    media_limits l;
    l.max_seconds = seconds;
    l.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    return l;
}

struct made_files {
    tether::testkit::temp_dir dir{"tether-media-test-"};
    std::string wav_path;
    std::string path(const std::string& name) const { return (std::filesystem::path(dir.path()) / name).string(); }
    made_files() {
        wav_path = path("signal.wav");
        write_file(wav_path, stereo_wav(3.0));
    }
    // `name` made from the signal with ffmpeg's output `args`.
    std::string make(const std::string& name, const std::string& args) const {
        REQUIRE(ffmpeg(fmt::format("-i {} {} {}", wav_path, args, path(name))));
        return read_file(path(name));
    }
};

} // namespace

TEST_CASE("every common audio format decodes to the signal, mono at the model's rate", "[media]") {
    made_files f;
    struct format_case {
        const char* name;
        const char* args;
        double min_snr_db; // what the codec at this bit rate keeps, after resampling
        const char* container;
        const char* codec;
    };
    const format_case cases[] = {
        {"signal.mp3", "-c:a libmp3lame -b:a 128k", 22, "mp3", "mp3"},
        {"signal.m4a", "-c:a aac -b:a 128k", 28, "mov,mp4,m4a,3gp,3g2,mj2", "aac"},
        {"signal.ogg", "-c:a libopus -b:a 96k", 35, "ogg", "opus"},
        {"signal.webm", "-c:a libopus -b:a 96k", 35, "matroska,webm", "opus"},
        {"signal.flac", "-c:a flac", 80, "flac", "flac"},
        {"signal-adpcm.wav", "-c:a adpcm_ms", 38, "wav", "adpcm_ms"}, // a WAV decode_wav does not read
    };
    for (const auto& c : cases) {
        INFO(c.name);
        const std::string bytes = f.make(c.name, c.args);
        const auto r = decode_audio(bytes, 16000, limits_of(30));
        INFO(r.error);
        REQUIRE(r.clip);
        CHECK(r.container == c.container);
        CHECK(r.codec == c.codec);
        CHECK(r.clip->sample_rate == 16000);
        // The encoders' priming is trimmed, and their padding to within one
        // codec frame (AAC in MP4 keeps up to 1024 source samples, 23 ms).
        CHECK(std::abs(static_cast<double>(r.clip->samples.size()) - 48000.0) <= 400);
        const auto fit = snr_against_signal(r.clip->samples, 16000);
        INFO("SNR " << fit.db << " dB at lag " << fit.lag);
        CHECK(fit.db >= c.min_snr_db);
        CHECK(std::abs(fit.lag) <= 2);
    }
    // The plain WAV keeps its own decoder and linear resampling, whose sample
    // centres are aligned (torch's align_corners=False): output sample i sits
    // at (i + 0.5) / 16000 - 0.5 / 44100 s of the source.
    const auto wav = decode_audio(read_file(f.wav_path), 16000, limits_of(30));
    REQUIRE(wav.clip);
    CHECK(wav.codec == "pcm");
    CHECK(wav.clip->samples.size() == 48000);
    const auto fit = snr_against_signal(wav.clip->samples, 16000, 0, 0.5 / 16000 - 0.5 / source_rate);
    INFO("WAV SNR " << fit.db);
    CHECK(fit.db >= 50);
}

TEST_CASE("an upload is probed from its bytes: an MP3 named .wav is an MP3", "[media]") {
    made_files f;
    job j;
    j.files.push_back(input_file{"audio", "recording.wav", "audio/wav", 0, f.make("x.mp3", "-c:a libmp3lame"), ""});
    j.files.back().size = j.files.back().bytes.size();
    model_spec spec;
    spec.task = model_task::audio;
    spec.sample_rate = 8000;
    spec.max_seconds = 10;
    const auto clip = prepare_audio(j, spec);
    INFO(clip.error.message);
    REQUIRE(clip.ok());
    CHECK(clip.value->sample_rate == 8000);
    CHECK(std::abs(static_cast<double>(clip.value->samples.size()) - 24000.0) <= 120);

    // A classifier reads a fixed window of a longer file and pads a shorter one.
    model_spec cls;
    cls.task = model_task::classification;
    cls.kind = input_kind::audio;
    cls.sample_rate = 16000;
    cls.samples = 8000;
    const auto window = prepare_audio(j, cls);
    REQUIRE(window.ok());
    CHECK(window.value->samples.size() == 8000);
    CHECK(snr_against_signal(window.value->samples, 16000, 4).db >= 20);
}

TEST_CASE("hostile audio is refused with the reason, before decoding where the header tells", "[media]") {
    made_files f;
    auto refusal = [](std::string_view bytes, const media_limits& l) {
        const auto r = decode_audio(bytes, 16000, l);
        CHECK_FALSE(r.clip);
        return r.error;
    };
    SECTION("not media at all") {
        CHECK(refusal("this is a text file, not audio", limits_of(30)).find("not an audio or video file") == 0);
        CHECK(refusal("", limits_of(30)) == "the file is empty");
    }
    SECTION("truncated files") {
        const std::string m4a = f.make("t.m4a", "-c:a aac");
        CHECK_THAT(refusal(std::string_view(m4a).substr(0, m4a.size() / 2), limits_of(30)), Catch::Contains("damaged or cut short"));
        const std::string flac = f.make("t.flac", "-c:a flac");
        CHECK_THAT(refusal(std::string_view(flac).substr(0, flac.size() / 2), limits_of(30)), Catch::Contains("cut short: its header says 3.0 s"));
        const std::string mp3 = f.make("t.mp3", "-c:a libmp3lame");
        CHECK_THAT(refusal(std::string_view(mp3).substr(0, mp3.size() / 2), limits_of(30)), Catch::Contains("cut short: its header says 3.0 s"));
    }
    SECTION("a header claiming 10 hours is refused without decoding") {
        std::string flac = f.make("h.flac", "-c:a flac");
        REQUIRE(flac.substr(0, 4) == "fLaC");
        // STREAMINFO's 36-bit total sample count: the low bits of the 8 bytes at 18.
        std::uint64_t packed = 0;
        for (int i = 0; i < 8; ++i) packed = packed << 8 | static_cast<std::uint8_t>(flac[18 + static_cast<std::size_t>(i)]);
        packed = (packed & ~((std::uint64_t{1} << 36) - 1)) | (std::uint64_t{36000} * source_rate);
        for (int i = 7; i >= 0; --i, packed >>= 8) flac[18 + static_cast<std::size_t>(i)] = static_cast<char>(packed & 0xFF);
        CHECK_THAT(refusal(flac, limits_of(30)), Catch::Contains("its header says it is 36000.0 s long, over this model's limit of 30 s"));
    }
    SECTION("a highly compressed stream with no length in its header stops at the limit") {
        // Ten minutes of near-silence in a few kilobytes, written to a pipe
        // so that FLAC's header cannot carry the length.
        REQUIRE(ffmpeg(fmt::format("-f lavfi -i anullsrc=r=8000:cl=mono -t 600 -c:a flac -f flac pipe:1 > {}", f.path("bomb.flac"))));
        const std::string bomb = read_file(f.path("bomb.flac"));
        CHECK(bomb.size() < 200000);
        CHECK_THAT(refusal(bomb, limits_of(30)), Catch::Contains("decodes to more than this model's limit of 30 s"));
        auto bytes_limit = limits_of(3600);
        bytes_limit.max_decoded_bytes = 1 << 20;
        CHECK_THAT(refusal(bomb, bytes_limit), Catch::Contains("decodes to more than the limit of 1 MiB"));
    }
    SECTION("the time budget") {
        const std::string mp3 = f.make("b.mp3", "-c:a libmp3lame");
        auto late = limits_of(30);
        late.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
        CHECK_THAT(refusal(mp3, late), Catch::Contains("longer than its time budget"));
    }
    SECTION("limits on rate and channels come from the header") {
        const std::string six = f.make("six.flac", "-ac 6 -c:a flac");
        auto l = limits_of(30);
        l.max_channels = 2;
        CHECK_THAT(refusal(six, l), Catch::Contains("it has 6 channels, over the limit of 2"));
        const std::string fast = f.make("fast.flac", "-ar 96000 -c:a flac");
        l = limits_of(30);
        l.max_sample_rate = 48000;
        CHECK_THAT(refusal(fast, l), Catch::Contains("sample rate of 96000 Hz is over the limit of 48000 Hz"));
        CHECK_THAT(refusal(f.make("long.mp3", "-c:a libmp3lame"), limits_of(1)), Catch::Contains("over this model's limit of 1 s"));
    }
    SECTION("a video with no sound") {
        REQUIRE(ffmpeg(fmt::format("-f lavfi -i testsrc=size=32x32:rate=5 -t 1 -c:v libx264 -pix_fmt yuv420p {}", f.path("mute.mp4"))));
        CHECK_THAT(refusal(read_file(f.path("mute.mp4")), limits_of(30)), Catch::Contains("holds no audio stream"));
    }
}

TEST_CASE("an audio file converts to another format, mono, at its own rate or the one asked for", "[media]") {
    const std::string wav = stereo_wav(1.0); // 44.1 kHz stereo PCM
    const auto mp3 = convert_audio(wav, audio_format::mp3, 0, limits_of(30));
    INFO(mp3.error);
    REQUIRE_FALSE(mp3.bytes.empty());
    CHECK(mp3.converted);
    CHECK(mp3.mime == "audio/mpeg");
    CHECK(mp3.sample_rate == source_rate);
    CHECK(mp3.from == "pcm in wav");
    const auto back = decode_audio(mp3.bytes, 0, limits_of(30));
    REQUIRE(back.clip);
    CHECK(back.clip->sample_rate == source_rate); // rate 0: the file's own
    CHECK(back.codec == "mp3");
    CHECK(snr_against_signal(back.clip->samples, source_rate).db >= 20);
    // Already MP3: the same bytes, not encoded again.
    const auto again = convert_audio(mp3.bytes, audio_format::mp3, 0, limits_of(30));
    CHECK_FALSE(again.converted);
    CHECK(again.bytes == mp3.bytes);
    // To WAV at 16 kHz: 16-bit mono PCM at that rate, the signal kept.
    const auto w16 = convert_audio(wav, audio_format::wav, 16000, limits_of(30));
    REQUIRE(w16.converted);
    REQUIRE(w16.bytes.size() > 44);
    CHECK(static_cast<unsigned char>(w16.bytes[22]) == 1);  // channels
    CHECK(static_cast<unsigned char>(w16.bytes[34]) == 16); // bits per sample
    const auto pcm = decode_audio(w16.bytes, 0, limits_of(30));
    REQUIRE(pcm.clip);
    CHECK(pcm.clip->sample_rate == 16000);
    // (linear resampling's centred samples: see the WAV case above)
    CHECK(snr_against_signal(pcm.clip->samples, 16000, 0, 0.5 / 16000 - 0.5 / source_rate).db >= 45);
    // Opus from the MP3.
    const auto opus = convert_audio(mp3.bytes, audio_format::opus, 0, limits_of(30));
    REQUIRE(opus.converted);
    CHECK(decode_audio(opus.bytes, 0, limits_of(30)).codec == "opus");
    // Not audio: the input's fault, named.
    const auto text = convert_audio("just some text, no audio", audio_format::mp3, 0, limits_of(30));
    CHECK(text.bytes.empty());
    CHECK(text.bad_input);
    CHECK_FALSE(text.error.empty());
}

TEST_CASE("audio encodes to MP3 and Opus that decode back to it", "[media]") {
    std::vector<float> samples(24000);
    for (std::size_t i = 0; i < samples.size(); ++i) samples[i] = static_cast<float>(mono(static_cast<double>(i) / 24000));
    for (auto format : {audio_format::mp3, audio_format::opus, audio_format::wav}) {
        const auto out = encode_audio(samples, 24000, format);
        INFO(out.error);
        REQUIRE_FALSE(out.bytes.empty());
        CHECK(out.sample_rate == 24000);
        const auto back = decode_audio(out.bytes, 24000, limits_of(30));
        INFO(back.error);
        REQUIRE(back.clip);
        CHECK(back.container == (format == audio_format::mp3 ? "mp3" : format == audio_format::opus ? "ogg" : "wav"));
        CHECK(std::abs(static_cast<double>(back.clip->samples.size()) - 24000.0) <= 24000 * 0.05);
        CHECK(snr_against_signal(back.clip->samples, 24000).db >= 15);
    }
    // A rate MP3 cannot hold is resampled to one it can.
    const auto odd = encode_audio(samples, 22000, audio_format::mp3);
    CHECK(odd.sample_rate == 22050);
    CHECK(parse_audio_format("ogg") == audio_format::opus);
    CHECK_FALSE(parse_audio_format("aiff"));
}

TEST_CASE("a video goes through the frame callback to MP4 with its audio track", "[media]") {
    made_files f;
    // 2 s at 10 fps, 64x48, with a tone in AAC.
    REQUIRE(ffmpeg(fmt::format("-f lavfi -i testsrc=size=64x48:rate=10 -f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 "
                               "-c:v libx264 -pix_fmt yuv420p -c:a aac -shortest {}",
                               f.path("clip.mp4"))));
    const std::string clip = read_file(f.path("clip.mp4"));
    video_limits limits;
    limits.media = limits_of(10);

    std::vector<image_rgb> first_in;
    // Inverts each pixel and doubles the size (nearest), as a model would.
    video_frame_fn invert_upscale = [&](std::vector<image_rgb>& frames) -> std::optional<std::string> {
        if (first_in.empty()) first_in.push_back(frames.front());
        for (auto& img : frames) {
            image_rgb out{img.width * 2, img.height * 2, std::vector<std::uint8_t>(img.pixels.size() * 4)};
            for (std::uint32_t y = 0; y < out.height; ++y)
                for (std::uint32_t x = 0; x < out.width; ++x)
                    for (int c = 0; c < 3; ++c)
                        out.pixels[(y * out.width + x) * 3 + c] =
                            static_cast<std::uint8_t>(255 - img.pixels[((y / 2) * img.width + x / 2) * 3 + c]);
            img = std::move(out);
        }
        return std::nullopt;
    };
    std::vector<video_progress> seen;
    const auto r = transcode_video(clip, limits, 4, invert_upscale, [&](const video_progress& p) { seen.push_back(p); },
                                   [] { return false; });
    INFO(r.error);
    REQUIRE_FALSE(r.mp4.empty());
    CHECK(r.frames == 20);
    CHECK(r.width == 128);
    CHECK(r.height == 96);
    CHECK(r.seconds == Approx(2.0).margin(0.01));
    CHECK(r.video_codec == "h264");
    CHECK(r.audio == "copied (aac)");
    REQUIRE(seen.size() == 5);
    CHECK(seen.back().frames_done == 20);
    CHECK(seen.back().frames_total == 20);

    // The output decodes again: its frames are the callback's (H.264 at crf 20
    // keeps them close) and its sound is the source's tone.
    std::vector<image_rgb> first_out;
    video_frame_fn keep = [&](std::vector<image_rgb>& frames) -> std::optional<std::string> {
        if (first_out.empty()) first_out.push_back(frames.front());
        return std::nullopt;
    };
    const auto again = transcode_video(r.mp4, limits, 8, keep, {}, {});
    INFO(again.error);
    REQUIRE(again.frames == 20);
    REQUIRE(first_out.size() == 1);
    REQUIRE(first_out[0].width == 128);
    double error = 0;
    const image_rgb& src = first_in[0];
    for (std::uint32_t y = 0; y < 96; ++y)
        for (std::uint32_t x = 0; x < 128; ++x)
            for (int c = 0; c < 3; ++c)
                error += std::abs(static_cast<int>(first_out[0].pixels[(y * 128 + x) * 3 + c]) -
                                  (255 - static_cast<int>(src.pixels[((y / 2) * 64 + x / 2) * 3 + c])));
    CHECK(error / (128.0 * 96 * 3) < 12);
    const auto sound = decode_audio(r.mp4, 16000, limits_of(10));
    INFO(sound.error);
    REQUIRE(sound.clip);
    CHECK(sound.codec == "aac");
    CHECK(sound.seconds == Approx(2.0).margin(0.1));
}

TEST_CASE("video limits, cancellation and model errors", "[media]") {
    made_files f;
    REQUIRE(ffmpeg(fmt::format("-f lavfi -i testsrc=size=80x60:rate=10 -t 3 -c:v libx264 -pix_fmt yuv420p {}", f.path("v.mp4"))));
    const std::string clip = read_file(f.path("v.mp4"));
    video_frame_fn same = [](std::vector<image_rgb>&) -> std::optional<std::string> { return std::nullopt; };
    video_limits l;
    l.media = limits_of(10);
    SECTION("frame size, duration and frame count from the header") {
        auto small = l;
        small.max_width = 64;
        CHECK_THAT(transcode_video(clip, small, 4, same, {}, {}).error, Catch::Contains("its frames are 80x60, over this model's limit of 64x1080"));
        auto shorter = l;
        shorter.media.max_seconds = 1;
        CHECK_THAT(transcode_video(clip, shorter, 4, same, {}, {}).error, Catch::Contains("over this model's limit of 1 s"));
        auto fewer = l;
        fewer.max_frames = 10;
        CHECK_THAT(transcode_video(clip, fewer, 4, same, {}, {}).error, Catch::Contains("30 frames, over this model's limit of 10"));
        CHECK_THAT(transcode_video(f.make("a.mp3", "-c:a libmp3lame"), l, 4, same, {}, {}).error, Catch::Contains("holds no video stream"));
    }
    SECTION("cancelled between batches") {
        int batches = 0;
        video_frame_fn count = [&](std::vector<image_rgb>&) -> std::optional<std::string> {
            ++batches;
            return std::nullopt;
        };
        const auto r = transcode_video(clip, l, 4, count, {}, [&] { return batches == 2; });
        CHECK(r.cancelled);
        CHECK(r.mp4.empty());
        CHECK(batches == 2);
    }
    SECTION("a model error stops it and is not the input's fault") {
        video_frame_fn broken = [](std::vector<image_rgb>&) -> std::optional<std::string> { return "the model ran out of memory"; };
        const auto r = transcode_video(clip, l, 4, broken, {}, {});
        CHECK(r.error == "the model ran out of memory");
        CHECK_FALSE(r.bad_input);
        video_frame_fn drops = [](std::vector<image_rgb>& frames) -> std::optional<std::string> {
            frames.pop_back();
            return std::nullopt;
        };
        CHECK_THAT(transcode_video(clip, l, 4, drops, {}, {}).error, Catch::Contains("returned 3 frames for 4"));
    }
}

// tether-media-bench: the FFmpeg media layer's speed (scripts/bench-media.sh).
//   audio: seconds of audio decoded per second by decode_audio (to mono
//          16 kHz) for MP3, Opus in WebM and WAV, beside Debian's ffmpeg
//          command doing the same work (decode, mono, 16 kHz, f32 to
//          /dev/null) in the same run;
//   video: frames per second of transcode_video through a small image model
//          (two 3x3 convolutions, 256x256 frames, batches of 4) beside the
//          model's own frames per second on the same frames: the decode,
//          conversion and H.264 encode overhead as a ratio.
//   tether-media-bench [--seconds S] [--threads N]
#include "backends/model/media.hpp"
#include "backends/model/model_inputs.hpp"

#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

using namespace tether::agent;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void run(const std::string& command) {
    if (std::system(command.c_str()) != 0) {
        fmt::print(stderr, "failed: {}\n", command);
        std::exit(1);
    }
}

} // namespace

int main(int argc, char** argv) {
    double budget = 3;
    int threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--seconds") budget = std::atof(argv[i + 1]);
        else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    }
    torch::set_num_threads(threads);
    const auto dir = std::filesystem::temp_directory_path() / fmt::format("tether-media-bench-{}", ::getpid());
    std::filesystem::create_directories(dir);
    const auto path = [&](const char* name) { return (dir / name).string(); };
    const std::string ff = "ffmpeg -nostdin -loglevel error -y ";
    // 60 s of stereo 44.1 kHz music-like signal: two tones and noise.
    run(ff + "-f lavfi -i \"aevalsrc=0.3*sin(2*PI*440*t)+0.1*sin(2*PI*1250*t)+0.05*(random(0)-0.5)|0.3*sin(2*PI*660*t):s=44100:d=60\" " +
        path("a.wav"));
    run(ff + "-i " + path("a.wav") + " -c:a libmp3lame -b:a 128k " + path("a.mp3"));
    run(ff + "-i " + path("a.wav") + " -c:a libopus -b:a 96k " + path("a.webm"));

    fmt::print("audio (60 s stereo 44.1 kHz, decoded to mono 16 kHz), {:.0f} s each\n", budget);
    fmt::print("{:<8} {:>14} {:>16} {:>8}\n", "format", "tether audio-s/s", "ffmpeg CLI", "ratio");
    for (const char* name : {"a.mp3", "a.webm", "a.wav"}) {
        const std::string bytes = read_file(path(name));
        media_limits l;
        l.max_seconds = 120;
        int runs = 0;
        const auto t0 = clock_type::now();
        while (runs == 0 || seconds_since(t0) < budget) {
            const auto r = decode_audio(bytes, 16000, l);
            if (!r.clip) {
                fmt::print(stderr, "{}: {}\n", name, r.error);
                return 1;
            }
            ++runs;
        }
        const double ours = 60.0 * runs / seconds_since(t0);
        int cli_runs = 0;
        const auto t1 = clock_type::now();
        while (cli_runs == 0 || seconds_since(t1) < budget) {
            run(ff + "-threads 1 -i " + path(name) + " -ac 1 -ar 16000 -f f32le /dev/null");
            ++cli_runs;
        }
        const double cli = 60.0 * cli_runs / seconds_since(t1);
        fmt::print("{:<8} {:>14.0f} {:>16.0f} {:>8.2f}\n", name + 2, ours, cli, ours / cli);
    }

    // Video: 5 s of 256x256 at 25 fps, H.264 with AAC.
    run(ff + "-f lavfi -i testsrc=size=256x256:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 -t 5 "
             "-c:v libx264 -pix_fmt yuv420p -c:a aac -shortest " + path("v.mp4"));
    const std::string video = read_file(path("v.mp4"));
    torch::NoGradGuard no_grad;
    torch::nn::Sequential model(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 16, 3).padding(1)), torch::nn::ReLU(),
                                torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 3, 3).padding(1)), torch::nn::Sigmoid());
    model->eval();
    auto forward = [&](std::vector<image_rgb>& frames) -> std::optional<std::string> {
        const auto n = static_cast<std::int64_t>(frames.size());
        const auto h = static_cast<std::int64_t>(frames[0].height), w = static_cast<std::int64_t>(frames[0].width);
        std::vector<float> planar;
        for (const auto& f : frames) {
            auto p = to_planar(f, {}, {});
            planar.insert(planar.end(), p.begin(), p.end());
        }
        auto out = model->forward(torch::from_blob(planar.data(), {n, 3, h, w}).clone()).contiguous();
        for (std::int64_t i = 0; i < n; ++i)
            frames[static_cast<std::size_t>(i)] = from_planar(out.data_ptr<float>() + i * 3 * h * w, static_cast<std::uint32_t>(w),
                                                              static_cast<std::uint32_t>(h));
        return std::nullopt;
    };
    video_limits vl;
    vl.media.max_seconds = 60;
    std::uint64_t frames = 0;
    int runs = 0;
    auto t2 = clock_type::now();
    std::vector<image_rgb> sample;
    while (runs == 0 || seconds_since(t2) < budget) {
        const auto r = transcode_video(video, vl, 4,
                                       [&](std::vector<image_rgb>& f) {
                                           if (sample.size() < 4) sample = f;
                                           return forward(f);
                                       },
                                       {}, {});
        if (r.mp4.empty()) {
            fmt::print(stderr, "video: {}\n", r.error);
            return 1;
        }
        frames += r.frames;
        ++runs;
    }
    const double through = static_cast<double>(frames) / seconds_since(t2);
    std::uint64_t model_frames = 0;
    const auto t3 = clock_type::now();
    while (model_frames == 0 || seconds_since(t3) < budget) {
        auto batch = sample;
        (void)forward(batch);
        model_frames += batch.size();
    }
    const double alone = static_cast<double>(model_frames) / seconds_since(t3);
    fmt::print("video 256x256, 125 frames, batches of 4, {} thread(s): {:.1f} frames/s through transcode_video, "
               "{:.1f} frames/s the model alone (with its RGB<->planar copies), ratio {:.2f}\n",
               threads, through, alone, through / alone);
    std::filesystem::remove_all(dir);
    return 0;
}

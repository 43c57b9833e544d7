// tether-whisper-bench: speech recognition speed of a Whisper folder, in
// process: the real-time factor (audio seconds per wall second) of whole
// transcriptions at batch 1 and with N requests at once sharing batched
// windows, and where the time goes (one encoder window, one decoder step).
// scripts/bench-whisper.sh makes the random-weight folders and runs it.
#include "backends/torch/blas_info.hpp"
#include "backends/torch/whisper/whisper_engine.hpp"

#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <numbers>
#include <random>
#include <thread>

using namespace tether::agent;
using steady = std::chrono::steady_clock;

namespace {

double seconds_since(steady::time_point t) { return std::chrono::duration<double>(steady::now() - t).count(); }

std::vector<float> tones(double seconds, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.0F, 0.02F);
    std::vector<float> s(static_cast<std::size_t>(seconds * 16000));
    for (std::size_t i = 0; i < s.size(); ++i) {
        const double t = static_cast<double>(i) / 16000;
        const double f = 220 + 120 * std::sin(2 * std::numbers::pi * 0.4 * t) + 25.0 * seed;
        s[i] = static_cast<float>(0.3 * std::sin(2 * std::numbers::pi * f * t)) + noise(rng);
    }
    return s;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        fmt::print(stderr, "usage: tether-whisper-bench FOLDER [--threads N] [--device cpu|cuda] [--seconds S] "
                           "[--streams 1,4] [--max-tokens N]\n");
        return 2;
    }
    const std::string folder = argv[1];
    int threads = 0;
    std::string device = "cpu";
    double seconds = 60;
    std::int64_t max_tokens = 0;
    std::vector<std::size_t> streams{1, 4};
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--threads") threads = std::stoi(v);
        else if (k == "--device") device = v;
        else if (k == "--seconds") seconds = std::stod(v);
        else if (k == "--max-tokens") max_tokens = std::stoll(v);
        else if (k == "--streams") {
            streams.clear();
            std::size_t at = 0;
            while (at < v.size()) {
                const auto comma = v.find(',', at);
                streams.push_back(std::stoul(v.substr(at, comma - at)));
                at = comma == std::string::npos ? v.size() : comma + 1;
            }
        } else {
            fmt::print(stderr, "tether-whisper-bench: unknown option {}\n", k);
            return 2;
        }
    }
    if (threads > 0) at::set_num_threads(threads);
    const auto blas = match_blas_threads(at::get_num_threads()); // as the agent does: one thread pool
    whisper::load_options lo;
    lo.device = at::Device(device);
    std::size_t widest = 1;
    for (auto n : streams) widest = std::max(widest, n);
    auto single = whisper::load_whisper(folder, lo, 1, std::chrono::microseconds(0));
    auto batched = whisper::load_whisper(folder, lo, widest, std::chrono::milliseconds(20));
    const auto& cfg = single->model().config();
    fmt::print("{}\n{} intra-op thread(s), BLAS {}; {:.0f} s clips; at most {} tokens per window\n", single->model().describe(),
               at::get_num_threads(), blas.name, seconds, max_tokens > 0 ? max_tokens : whisper::max_new_tokens(cfg));

    // Where the time goes: one encoder window; decoder steps from the window's decode.
    {
        const auto frames = 2 * cfg.arch.max_source_positions;
        at::Tensor mel = at::randn({1, cfg.arch.num_mel_bins, frames});
        at::NoGradGuard g;
        (void)single->model().encode(mel);
        const auto t0 = steady::now();
        const int reps = 3;
        for (int i = 0; i < reps; ++i) (void)single->model().encode(mel);
        const double enc = seconds_since(t0) / reps;
        whisper::window_job job;
        job.mel = std::vector<float>(mel.data_ptr<float>(), mel.data_ptr<float>() + mel.numel());
        job.options.language = cfg.tokens.language_ids.empty() ? std::nullopt : std::optional<std::int64_t>(cfg.tokens.language_ids.front());
        job.options.timestamps = false;
        std::vector<whisper::window_job> one{job};
        const auto t1 = steady::now();
        const auto out = single->model().decode(one);
        const double all = seconds_since(t1);
        const double per_token = (all - enc) / static_cast<double>(std::max<std::size_t>(out[0].picks, 1));
        fmt::print("encoder: {:.1f} ms per 30 s window; decoder: {:.2f} ms per token ({} tokens in the window)\n", enc * 1e3,
                   per_token * 1e3, out[0].picks);
    }

    for (auto n : streams) {
        std::vector<std::vector<float>> clips;
        for (std::size_t i = 0; i < n; ++i) clips.push_back(tones(seconds, static_cast<std::uint32_t>(i + 1)));
        whisper::decode_options o;
        o.language = cfg.tokens.language_ids.empty() ? std::nullopt : std::optional<std::int64_t>(cfg.tokens.language_ids.front());
        o.max_tokens = max_tokens;
        auto& engine = n == 1 ? *single : *batched;
        const auto before = engine.batches_run();
        const auto before_windows = engine.windows_run();
        std::vector<std::size_t> windows(n), tokens(n);
        const auto t0 = steady::now();
        std::vector<std::thread> th;
        for (std::size_t i = 0; i < n; ++i)
            th.emplace_back([&, i] {
                auto t = engine.transcribe(clips[i], o, {}, {}, {});
                windows[i] = t.windows;
                for (const auto& s : t.segments) tokens[i] += s.tokens.size();
            });
        for (auto& t : th) t.join();
        const double wall = seconds_since(t0);
        std::size_t w = 0, k = 0;
        for (std::size_t i = 0; i < n; ++i) w += windows[i], k += tokens[i];
        const double audio = seconds * static_cast<double>(n);
        fmt::print("{} stream(s): {:.0f} s of audio in {:.2f} s: {:.1f}x real time; {} windows, {} tokens{}\n", n, audio, wall,
                   audio / wall, w, k,
                   n > 1 ? fmt::format("; {:.2f} windows per batched call",
                                       static_cast<double>(engine.windows_run() - before_windows) /
                                           static_cast<double>(std::max<std::uint64_t>(engine.batches_run() - before, 1)))
                         : "");
    }
    return 0;
}

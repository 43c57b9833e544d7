// tether-lm-bench: the language-model engine in process, against the bounds
// measured in the same run (scripts/bench-lm.sh drives it).
//
//   tether-lm-bench FOLDER [--threads N] [--device cpu|cuda] [--decode N]
//                   [--prompt N] [--streams 1,4,16] [--stream-tokens N]
//
// Prints, one per line, "name value unit" figures:
//   bandwidth      read bandwidth of a bare libtorch sum over 1 GiB (GB/s)
//   bound          weight bytes per token / bandwidth (tokens/s)
//   decode         single-stream decode tokens/s (after the first token)
//   ttft           time to first token for a --prompt token prompt (ms)
//   aggregate_N    tokens/s over N concurrent streams (continuous batching)
#include "backends/torch/blas_info.hpp"
#include "backends/torch/lm/lm_engine.hpp"

#include <fmt/core.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using namespace tether::agent;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

// Read bandwidth: the best of 5 sums over a 1 GiB float tensor (bytes read / s).
double read_bandwidth(at::Device device) {
    auto x = torch::ones({256L << 20}, torch::TensorOptions().dtype(torch::kFloat).device(device));
    double best = 0;
    for (int i = 0; i < 6; ++i) {
        if (device.is_cuda()) torch::cuda::synchronize();
        const auto t = clock_type::now();
        auto s = x.sum();
        (void)s.item<float>();
        const double dt = seconds_since(t);
        if (i > 0) best = std::max(best, static_cast<double>(x.numel() * 4) / dt);
    }
    return best;
}

lm_generation bench_job(std::size_t prompt_len, std::uint32_t max_tokens, std::uint64_t seed) {
    lm_generation g;
    for (std::size_t i = 0; i < prompt_len; ++i) g.prompt.push_back(static_cast<std::int64_t>(3 + (i * 37 + seed) % 600));
    g.max_tokens = max_tokens;
    g.sampling.temperature = 0;
    g.ignore_eos = true;
    g.seed = seed;
    return g;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        fmt::print(stderr, "usage: tether-lm-bench FOLDER [--threads N] [--device cpu|cuda] [--decode N] [--prompt N] "
                           "[--streams 1,4,16] [--stream-tokens N]\n");
        return 2;
    }
    const std::string folder = argv[1];
    int threads = 1;
    std::string device_name = "cpu";
    std::uint32_t decode_tokens = 128, stream_tokens = 64;
    std::size_t prompt_len = 512;
    std::vector<std::uint32_t> streams{1, 4, 16};
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--threads") threads = std::stoi(v);
        else if (k == "--device") device_name = v;
        else if (k == "--decode") decode_tokens = static_cast<std::uint32_t>(std::stoul(v));
        else if (k == "--prompt") prompt_len = std::stoul(v);
        else if (k == "--stream-tokens") stream_tokens = static_cast<std::uint32_t>(std::stoul(v));
        else if (k == "--streams") {
            streams.clear();
            std::size_t at = 0;
            while (at < v.size()) {
                const auto comma = v.find(',', at);
                streams.push_back(static_cast<std::uint32_t>(std::stoul(v.substr(at, comma - at))));
                at = comma == std::string::npos ? v.size() : comma + 1;
            }
        } else {
            fmt::print(stderr, "tether-lm-bench: unknown option {}\n", k);
            return 2;
        }
    }
    torch::set_num_threads(threads);
    const auto blas = match_blas_threads(threads);
    const at::Device device(device_name == "cuda" ? at::kCUDA : at::kCPU);
    std::uint32_t slots = 1;
    for (auto n : streams) slots = std::max(slots, n);

    auto text = std::make_shared<const text::model_text>(text::model_text::load(folder));
    lm::lm_load_options load;
    load.device = device;
    auto model = lm::load_causal_lm(folder, load);
    const std::string described = model->describe();
    const auto weight_bytes = model->weight_bytes();
    lm::lm_engine_options o;
    o.slots = slots;
    o.max_context = static_cast<std::int64_t>(prompt_len) + std::max(decode_tokens, stream_tokens) + 8;
    lm::lm_engine engine(std::move(model), text, o);
    fmt::print("model {}\n", described);
    fmt::print("threads {}\n", threads);
    fmt::print("blas {}\n", blas.name);
    fmt::print("weight_bytes {} B\n", weight_bytes);
    fmt::print("cache_bytes {} B\n", engine.cache_bytes());

    const double bw = read_bandwidth(device);
    fmt::print("bandwidth {:.2f} GB/s\n", bw / 1e9);
    fmt::print("bound {:.1f} tokens/s\n", bw / static_cast<double>(weight_bytes));

    auto run = [&](const lm_generation& g) {
        cancellation_token cancel;
        return engine.generate(g, cancel, [](std::string) {});
    };
    (void)run(bench_job(16, 8, 1)); // warm-up
    // Single-stream decode: a short prompt, then decode_tokens tokens.
    double best_decode = 0;
    for (int r = 0; r < 3; ++r) best_decode = std::max(best_decode, run(bench_job(16, decode_tokens, 2 + r)).decode_tokens_per_s);
    fmt::print("decode {:.1f} tokens/s\n", best_decode);
    double best_ttft = 1e30;
    for (int r = 0; r < 3; ++r) best_ttft = std::min(best_ttft, run(bench_job(prompt_len, 1, 10 + r)).time_to_first_token_ms);
    fmt::print("ttft {:.1f} ms (prompt {} tokens)\n", best_ttft, prompt_len);

    for (auto n : streams) {
        std::vector<std::thread> pool;
        std::atomic<std::uint64_t> tokens{0};
        const auto t = clock_type::now();
        for (std::uint32_t k = 0; k < n; ++k)
            pool.emplace_back([&, k] { tokens += run(bench_job(16, stream_tokens, 100 + k)).completion_tokens; });
        for (auto& th : pool) th.join();
        const double dt = seconds_since(t);
        fmt::print("aggregate_{} {:.1f} tokens/s ({} tokens in {:.2f} s, widest step {})\n", n,
                   static_cast<double>(tokens.load()) / dt, tokens.load(), dt, engine.stats().widest_step);
    }
    return 0;
}

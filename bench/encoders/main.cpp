// tether-encoder-bench: encoder speed of a folder, in process.
//   text folders: embeddings (or classifications) per second of short texts
//     at forward batches of 1, 8 and 32 (the batching gain is the ratio);
//   ViT folders: images per second at batches of 1 and 8.
// The reference measured in the same run is the bare GEMM bound: a loop of
// at::matmul of the model's own weight shapes over the same rows, so the
// figure says what fraction of the CPU's matrix speed the whole model reaches.
// scripts/bench-encoders.sh makes the random-weight folders and runs it.
#include "backends/torch/blas_info.hpp"
#include "backends/torch/encoder/bart_engine.hpp"
#include "backends/torch/encoder/encoder_engine.hpp"
#include "backends/hf/lm_config.hpp"
#include "backends/torch/lm/attention.hpp"

#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

using namespace tether::agent;
using steady = std::chrono::steady_clock;

namespace {

double seconds_since(steady::time_point t) { return std::chrono::duration<double>(steady::now() - t).count(); }

// Sentences of 8 to 24 words from a small vocabulary: search-query to
// sentence lengths (about 12 to 35 tokens).
std::vector<std::string> sentences(std::size_t n, std::uint32_t seed) {
    static const char* words[] = {"the", "model", "agent", "broker", "runs", "on", "a", "GPU", "behind", "NAT", "and",
                                  "streams", "results", "to", "users", "who", "ask", "for", "embeddings", "of", "their",
                                  "documents", "quickly", "today"};
    std::mt19937 rng(seed);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; ++i) {
        const int len = 8 + static_cast<int>(rng() % 17);
        std::string s;
        for (int w = 0; w < len; ++w) s += std::string(w ? " " : "") + words[rng() % std::size(words)];
        out.push_back(s + ".");
    }
    return out;
}

// FLOPs of the layers' matrix products for `rows` token rows (the attention
// scores of short inputs are small beside them and left out).
double layer_flops(const tether::agent::hf::encoder_config& c, double rows) {
    const double d = static_cast<double>(c.hidden_size), f = static_cast<double>(c.intermediate_size);
    return 2.0 * rows * static_cast<double>(c.num_layers) * (4 * d * d + 2 * d * f);
}

// The bound: the same products as bare at::matmul calls, GFLOP/s.
double gemm_bound(const tether::agent::hf::encoder_config& c, std::int64_t rows, double seconds) {
    const auto d = c.hidden_size, f = c.intermediate_size;
    const at::Tensor x = at::randn({rows, d}), h = at::randn({rows, f});
    const at::Tensor wd = at::randn({d, d}), wu = at::randn({f, d}), wo = at::randn({d, f});
    at::NoGradGuard no_grad;
    std::size_t loops = 0;
    const auto start = steady::now();
    do {
        for (std::int64_t l = 0; l < c.num_layers; ++l) {
            for (int k = 0; k < 4; ++k) (void)at::matmul(x, wd.t());
            (void)at::matmul(x, wu.t());
            (void)at::matmul(h, wo.t());
        }
        ++loops;
    } while (seconds_since(start) < seconds);
    return layer_flops(c, static_cast<double>(rows)) * static_cast<double>(loops) / seconds_since(start) / 1e9;
}

// Summarization: greedy and 4-beam tokens per second for one ~200-token
// input, against a bare loop of the matrix-vector products one decoder step
// needs (each layer's self and cross attention projections and MLP, and the
// output projection over the vocabulary) for as many rows as beams.
double bart_step_bound(const hf::bart_config& c, std::int64_t rows, double seconds) {
    const auto d = c.d_model, f = c.decoder_ffn;
    const at::Tensor x = at::randn({rows, d}), h = at::randn({rows, f});
    const at::Tensor wd = at::randn({d, d}), wu = at::randn({f, d}), wo = at::randn({d, f}), head = at::randn({c.vocab_size, d});
    std::size_t steps = 0;
    const auto start = steady::now();
    do {
        for (std::int64_t l = 0; l < c.decoder_layers; ++l) {
            for (int k = 0; k < 6; ++k) (void)tether::agent::lm::project(x, wd);
            (void)tether::agent::lm::project(x, wu);
            (void)tether::agent::lm::project(h, wo);
        }
        (void)tether::agent::lm::project(x, head);
        ++steps;
    } while (seconds_since(start) < seconds);
    return static_cast<double>(steps) / seconds_since(start);
}

int bench_bart(const std::string& folder, const std::string& device, double seconds) {
    encoder::load_options lo;
    lo.device = at::Device(device);
    auto engine = encoder::load_bart(folder, lo, 8, std::chrono::microseconds(2000));
    const auto& m = engine->model();
    const auto& c = m.config();
    fmt::print("{}\n{} intra-op thread(s)\n", m.describe(), at::get_num_threads());
    std::string text;
    for (const auto& s : sentences(12, 9)) text += s + " ";
    const auto ids32 = engine->text().tokens().encode_truncated(text, true, static_cast<std::size_t>(c.max_position), nullptr);
    const std::vector<std::int64_t> ids(ids32.begin(), ids32.end());
    for (std::int64_t beams : {1, 4}) {
        encoder::seq2seq_options o;
        o.num_beams = beams;
        o.max_length = 65;
        std::size_t tokens = 0, runs = 0;
        const auto start = steady::now();
        do {
            tokens += m.generate(ids, o, {}, {}).tokens.size();
            ++runs;
        } while (seconds_since(start) < seconds);
        const double s = seconds_since(start);
        const double bound = bart_step_bound(c, beams, std::min(seconds, 2.0));
        const double steps_per_s = static_cast<double>(tokens) / s;
        fmt::print("{} beam(s): {:7.1f} tokens/s ({} summaries of {:.0f} tokens from {} input tokens, encoder included); the "
                   "bare products of a step: {:.1f} steps/s, so {:.2f} of the bound\n",
                   beams, steps_per_s, runs, static_cast<double>(tokens) / static_cast<double>(runs), ids.size(), bound,
                   steps_per_s / bound);
    }
    // Concurrent requests through the engine's scheduler: N summaries share
    // each decoder step; tokens/s of all of them against one alone.
    double alone = 0;
    for (std::size_t n : {1, 4, 8}) {
        for (std::int64_t beams : {1, 4}) {
            if (beams == 4 && n == 8) continue;
            encoder::seq2seq_options o;
            o.num_beams = beams;
            o.max_length = 65;
            std::atomic<std::size_t> tokens{0};
            std::size_t rounds = 0;
            const auto start = steady::now();
            do {
                std::vector<std::thread> ts;
                for (std::size_t i = 0; i < n; ++i)
                    ts.emplace_back([&] {
                        cancellation_token none;
                        tokens += engine->generate(ids, o, none, {}).out.tokens.size();
                    });
                for (auto& t : ts) t.join();
                ++rounds;
            } while (seconds_since(start) < seconds);
            const double rate = static_cast<double>(tokens.load()) / seconds_since(start);
            if (n == 1 && beams == 1) alone = rate;
            const auto rows = static_cast<std::int64_t>(n) * beams;
            const double steps_per_s = rate / static_cast<double>(n);
            fmt::print("{} concurrent, {} beam(s): {:7.1f} tokens/s in all ({} rounds), {:.2f}x one greedy request alone; "
                       "{:.2f} of the bare products of a {}-row step\n",
                       n, beams, rate, rounds, alone > 0 ? rate / alone : 0.0,
                       steps_per_s / bart_step_bound(m.config(), rows, std::min(seconds, 2.0)), rows);
        }
    }
    const auto st = engine->stats();
    fmt::print("scheduler: {} steps, {} encoder calls, widest step {} requests / {} rows\n", st.steps, st.encoder_calls,
               st.widest_step, st.widest_rows);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        fmt::print(stderr, "usage: tether-encoder-bench FOLDER [--threads N] [--device cpu|cuda] [--seconds S] [--batches 1,8,32]\n");
        return 2;
    }
    const std::string folder = argv[1];
    int threads = 0;
    std::string device = "cpu";
    double seconds = 5;
    std::vector<std::size_t> batches;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--threads") threads = std::stoi(v);
        else if (k == "--device") device = v;
        else if (k == "--seconds") seconds = std::stod(v);
        else if (k == "--batches") {
            std::size_t at = 0;
            while (at < v.size()) {
                const auto comma = v.find(',', at);
                batches.push_back(std::stoul(v.substr(at, comma - at)));
                at = comma == std::string::npos ? v.size() : comma + 1;
            }
        } else {
            fmt::print(stderr, "tether-encoder-bench: unknown option {}\n", k);
            return 2;
        }
    }
    if (threads > 0) at::set_num_threads(threads);
    (void)match_blas_threads(at::get_num_threads());
    if (hf::read_model_type(folder) == "bart") return bench_bart(folder, device, seconds);
    encoder::load_options lo;
    lo.device = at::Device(device);
    std::size_t largest = 1;
    for (auto b : batches) largest = std::max(largest, b);
    const bool image = hf::read_encoder_config(folder).family == hf::encoder_family::vit;
    if (batches.empty()) batches = image ? std::vector<std::size_t>{1, 8} : std::vector<std::size_t>{1, 8, 32};
    for (auto b : batches) largest = std::max(largest, b);
    auto engine = encoder::load_encoder(folder, lo, largest, std::chrono::microseconds(0));
    const auto& c = engine->model().config();
    fmt::print("{}\n{} intra-op thread(s), {}\n", engine->model().describe(), at::get_num_threads(),
               match_blas_threads(at::get_num_threads()).name);
    double first_rate = 0;
    for (const auto b : batches) {
        std::size_t items = 0, tokens = 0;
        const auto start = steady::now();
        if (image) {
            std::vector<at::Tensor> px;
            for (std::size_t i = 0; i < b; ++i) px.push_back(at::randn({3, c.image_size, c.image_size}));
            do {
                (void)engine->run_images(px);
                items += b;
            } while (seconds_since(start) < seconds);
        } else {
            const auto texts = sentences(512, 5);
            std::vector<std::vector<std::int64_t>> ids;
            for (const auto& t : texts) ids.push_back(engine->tokenize(t).ids);
            std::size_t at = 0;
            do {
                // One forward batch of b inputs (the engine's queue takes the submission whole).
                std::vector<std::vector<std::int64_t>> call;
                for (std::size_t i = 0; i < b; ++i, at = (at + 1) % ids.size()) {
                    tokens += ids[at].size();
                    call.push_back(ids[at]);
                }
                (void)engine->run_text(std::move(call));
                items += b;
            } while (seconds_since(start) < seconds);
        }
        const double s = seconds_since(start);
        const double rate = static_cast<double>(items) / s;
        if (first_rate == 0) first_rate = rate;
        const double rows = image ? static_cast<double>(items) * static_cast<double>((c.image_size / c.patch_size) *
                                                                                      (c.image_size / c.patch_size) + 1)
                                  : static_cast<double>(tokens);
        const double gflops = layer_flops(c, rows) / s / 1e9;
        const auto bound_rows = static_cast<std::int64_t>(rows / static_cast<double>(items) * static_cast<double>(b));
        const double bound = gemm_bound(c, std::max<std::int64_t>(bound_rows, 1), std::min(seconds, 2.0));
        fmt::print("batch {:>3}: {:8.1f} {}/s ({:.2f}x batch 1), {:6.1f} GFLOP/s in the layers' products = {:.2f} of the bare "
                   "GEMM bound ({:.1f} GFLOP/s){}\n",
                   b, rate, image ? "images" : (c.task == hf::encoder_task::embeddings ? "embeddings" : "texts"),
                   rate / first_rate, gflops, gflops / bound, bound,
                   image ? "" : fmt::format(", {:.1f} tokens per input", static_cast<double>(tokens) / static_cast<double>(items)));
    }
    return 0;
}

#include "backend_runs.hpp"

#include "bench_request.hpp"
#include "raw_runs.hpp"
#include "sample_stats.hpp"

#include "backends/torch/torch_backend.hpp"

#include <fmt/format.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

namespace tether::bench {

namespace {

using agent::model_task;
using clock_type = std::chrono::steady_clock;

// Keeps what a run reports; a benchmark needs only the outcome and sizes.
struct outcome_sink final : agent::result_sink {
    std::optional<agent::completion> done;
    std::string fail_code, fail_message;
    std::uint64_t deltas = 0, delta_bytes = 0, file_bytes = 0;

    void processing() override {}
    void delta(std::string text) override {
        ++deltas;
        delta_bytes += text.size();
    }
    void file(agent::output_file f) override { file_bytes += f.bytes.size(); }
    void completed(agent::completion c) override { done = std::move(c); }
    void failed(std::string code, std::string message) override {
        fail_code = std::move(code);
        fail_message = std::move(message);
    }
};

agent::torch_options backend_options(const torch_bench_options& o, std::uint32_t capacity) {
    agent::torch_options t;
    t.models[bench_space] = o.model;
    t.capacity[bench_space] = capacity;
    t.device = "cpu";
    t.max_batch = o.max_batch;
    t.batch_wait = o.batch_wait;
    t.torch_threads = o.threads;
    return t;
}

// One request to its end; throws when it did not complete (the bench's
// request is valid, so a failure is a broken setup, not a figure).
outcome_sink run_once(agent::torch_backend& be, const agent::job& j) {
    agent::cancellation_token never;
    outcome_sink sink;
    be.run(j, never, sink);
    if (!sink.done)
        throw std::runtime_error(fmt::format("the request failed: {}: {}", sink.fail_code, sink.fail_message));
    return sink;
}

loop_bounds bounds_of(const torch_bench_options& o) {
    return {o.warmup, o.iterations, o.duration};
}

} // namespace

int run_backend(const torch_bench_options& o) {
    const auto r = make_bench_request(o);
    agent::torch_backend be(backend_options(o, 1));
    const int threads = use_torch_threads(0);
    std::vector<double> inference;
    std::uint64_t out_bytes = 0;
    const auto s = timed_loop(bounds_of(o), [&] {
        auto sink = run_once(be, r.request);
        if (sink.done->inference_ms) inference.push_back(*sink.done->inference_ms);
        out_bytes = sink.file_bytes + sink.done->output.size();
    });
    // The warm-up's inference times are in `inference` too; keep the timed ones.
    if (inference.size() > s.count)
        inference.erase(inference.begin(), inference.end() - static_cast<std::ptrdiff_t>(s.count));
    const auto inf = summarise(inference, 0);
    fmt::print("backend {}: {}; run() p50 {:.4f} ms (its inference_ms p50 {:.4f}), p99 {:.4f} ms over {} requests "
               "({} torch threads)\n",
               r.spec.name, r.what, s.p50_ms, inf.p50_ms, s.p99_ms, s.count, threads);
    result_line line("backend");
    line.add("model", r.spec.name).add("threads", static_cast<std::uint64_t>(threads));
    if (r.spec.task == model_task::text_generation) {
        line.add("tokens", static_cast<std::uint64_t>(o.max_tokens));
        line.add("tokens_per_s", s.p50_ms > 0 ? o.max_tokens * 1000.0 / s.p50_ms : 0.0, 1);
    }
    line.add("inference_p50_ms", inf.p50_ms, 4).add("output_bytes", out_bytes).add(s).print();
    return 0;
}

int run_generate(const torch_bench_options& o) {
    const auto r = make_bench_request(o);
    if (r.spec.task != model_task::text_generation)
        throw std::runtime_error(fmt::format("{}: generate needs a text-generation model", o.model));
    std::string text;
    sample_summary s;
    int threads = 0;
    {
        agent::torch_backend be(backend_options(o, 1));
        threads = use_torch_threads(0);
        s = timed_loop(bounds_of(o), [&] {
            auto sink = run_once(be, r.request);
            if (text.empty())
                text = sink.done->output;
            else if (text != sink.done->output)
                throw std::runtime_error("the same seed gave another text");
        });
    }
    // The raw loop replays exactly the windows the backend fed its model.
    std::vector<std::int64_t> all = r.tokens;
    for (unsigned char c : text)
        all.push_back(c);
    const auto raw = raw_replay(o, all, r.tokens.size(), r.spec.context);
    const double tokens = static_cast<double>(all.size() - r.tokens.size());
    auto per_s = [&](const sample_summary& x) { return x.p50_ms > 0 ? tokens * 1000.0 / x.p50_ms : 0.0; };
    fmt::print("generate {}: {}; backend {:.1f} tokens/s (p50 {:.2f} ms a request), raw forward loop {:.1f} tokens/s "
               "(p50 {:.2f} ms), backend / raw time {:.3f}x ({} torch threads)\n",
               r.spec.name, r.what, per_s(s), s.p50_ms, per_s(raw), raw.p50_ms, s.p50_ms / raw.p50_ms, threads);
    for (const auto& [label, x] : {std::pair{"generate-backend", s}, std::pair{"generate-raw", raw}}) {
        result_line(label)
            .add("model", r.spec.name)
            .add("threads", static_cast<std::uint64_t>(threads))
            .add("tokens", static_cast<std::uint64_t>(tokens))
            .add("tokens_per_s", per_s(x), 1)
            .add("ms_per_token", x.p50_ms / tokens, 4)
            .add(x)
            .print();
    }
    return 0;
}

int run_dynamic(const torch_bench_options& o) {
    const auto r = make_bench_request(o);
    agent::torch_backend be(backend_options(o, o.capacity));
    const int threads = use_torch_threads(0);
    for (std::uint64_t i = 0; i < o.warmup; ++i)
        run_once(be, r.request);
    const auto before = be.batch_stats(bench_space);

    std::atomic<std::uint64_t> started{0};
    std::mutex mutex;
    std::vector<double> latencies;
    std::string error;
    const auto start = clock_type::now();
    const auto end = start + o.duration;
    std::vector<std::thread> submitters;
    for (std::uint32_t t = 0; t < std::max<std::uint32_t>(o.submitters, 1); ++t) {
        submitters.emplace_back([&] {
            std::vector<double> mine;
            try {
                while (started.fetch_add(1) < o.iterations && clock_type::now() < end) {
                    const auto t0 = clock_type::now();
                    run_once(be, r.request);
                    mine.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
                }
            } catch (const std::exception& e) {
                std::lock_guard lock(mutex);
                error = e.what();
            }
            std::lock_guard lock(mutex);
            latencies.insert(latencies.end(), mine.begin(), mine.end());
        });
    }
    for (auto& t : submitters)
        t.join();
    const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    if (!error.empty()) throw std::runtime_error(error);
    const auto after = be.batch_stats(bench_space);
    const auto s = summarise(latencies, seconds);
    const auto batches = after.batches - before.batches, items = after.items - before.items;
    const double items_per_s = seconds > 0 ? static_cast<double>(s.count) / seconds : 0;
    fmt::print("dynamic {}: {}; capacity {}, {} submitters: {:.1f} items/s, latency p50 {:.3f} ms; batcher: {} "
               "batches, {} items ({:.2f} a batch) ({} torch threads)\n",
               r.spec.name, r.what, o.capacity, o.submitters, items_per_s, s.p50_ms, batches, items,
               batches ? static_cast<double>(items) / static_cast<double>(batches) : 0.0, threads);
    result_line("dynamic")
        .add("model", r.spec.name)
        .add("threads", static_cast<std::uint64_t>(threads))
        .add("capacity", static_cast<std::uint64_t>(o.capacity))
        .add("submitters", static_cast<std::uint64_t>(o.submitters))
        .add("max_batch", static_cast<std::uint64_t>(o.max_batch))
        .add("batch_wait_ms", static_cast<std::uint64_t>(o.batch_wait.count()))
        .add("items_per_s", items_per_s, 1)
        .add("batches", batches)
        .add("batched_items", items)
        .add("mean_batch", batches ? static_cast<double>(items) / static_cast<double>(batches) : 0.0, 2)
        .add(s)
        .print();
    return 0;
}

} // namespace tether::bench

#include "raw_runs.hpp"

#include "bench_request.hpp"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/script.h>

#include <stdexcept>

namespace tether::bench {

namespace {

using agent::model_task;

torch::jit::Module load_module(const std::string& path) {
    auto m = torch::jit::load(path, torch::kCPU);
    m.eval();
    return m;
}

torch::Tensor call(torch::jit::Module& m, const torch::Tensor& x) {
    c10::InferenceMode guard;
    auto out = m.forward({x});
    return out.isTuple() ? out.toTupleRef().elements().at(0).toTensor() : out.toTensor();
}

torch::Tensor input_tensor(const bench_request& r) {
    if (!r.tokens.empty()) return torch::tensor(r.tokens, torch::kLong).reshape(r.dims);
    return torch::from_blob(const_cast<float*>(r.values.data()), r.dims, torch::kFloat).clone();
}

loop_bounds bounds_of(const torch_bench_options& o) {
    return {o.warmup, o.iterations, o.duration};
}

// The agent's dry run of a text-generation model: two forward calls on a
// full window before any request. TorchScript's profiling executor
// specialises the graph on the shapes of its first calls, so the raw module
// gets the same history as the agent's (measured: within the noise either way).
void dry_run_like_the_agent(torch::jit::Module& m, std::uint32_t context) {
    const auto full = torch::zeros({1, static_cast<std::int64_t>(context)}, torch::kLong);
    call(m, full);
    call(m, full);
}

// What a user's own generation loop does: forward on the last `context`
// tokens, argmax of the last position, append.
void greedy_generate(torch::jit::Module& m, std::vector<std::int64_t> tokens, std::uint32_t steps,
                     std::uint32_t context) {
    for (std::uint32_t i = 0; i < steps; ++i) {
        const std::size_t from = tokens.size() > context ? tokens.size() - context : 0;
        const auto window = static_cast<std::int64_t>(tokens.size() - from);
        auto x = torch::from_blob(tokens.data() + from, {1, window}, torch::kLong);
        auto logits = call(m, x);
        tokens.push_back(logits[0][window - 1].argmax().item<std::int64_t>());
    }
}

} // namespace

int use_torch_threads(std::uint32_t threads) {
    if (threads > 0) at::set_num_threads(static_cast<int>(threads));
    return at::get_num_threads();
}

int run_direct(const torch_bench_options& o) {
    const int threads = use_torch_threads(o.threads);
    const auto r = make_bench_request(o);
    auto m = load_module(o.model);
    const auto x = input_tensor(r);
    sample_summary s;
    if (r.spec.task == model_task::text_generation) {
        dry_run_like_the_agent(m, r.spec.context);
        s = timed_loop(bounds_of(o), [&] { greedy_generate(m, r.tokens, o.max_tokens, r.spec.context); });
    } else {
        s = timed_loop(bounds_of(o), [&] { call(m, x); });
    }
    fmt::print("direct {}: {}; forward p50 {:.4f} ms, p99 {:.4f} ms over {} calls ({} torch threads)\n", r.spec.name,
               r.what, s.p50_ms, s.p99_ms, s.count, threads);
    result_line line("direct");
    line.add("model", r.spec.name).add("threads", static_cast<std::uint64_t>(threads));
    if (r.spec.task == model_task::text_generation) {
        line.add("tokens", static_cast<std::uint64_t>(o.max_tokens));
        line.add("tokens_per_s", s.p50_ms > 0 ? o.max_tokens * 1000.0 / s.p50_ms : 0.0, 1);
    }
    line.add(s).print();
    return 0;
}

int run_batch(const torch_bench_options& o) {
    const int threads = use_torch_threads(o.threads);
    const auto r = make_bench_request(o);
    auto m = load_module(o.model);
    const auto item = input_tensor(r);
    double single_items_per_s = 0;
    for (const auto b : o.batch_sizes) {
        if (b == 0) continue;
        std::vector<std::int64_t> reps(static_cast<std::size_t>(item.dim()), 1);
        reps[0] = b;
        const auto x = item.repeat(reps).contiguous();
        const auto s = timed_loop(bounds_of(o), [&] {
            auto out = call(m, x);
            if (out.size(0) != static_cast<std::int64_t>(b))
                throw std::runtime_error(fmt::format("batch of {} returned {} rows", b, out.size(0)));
        });
        const double items_per_s = s.seconds > 0 ? static_cast<double>(s.count * b) / s.seconds : 0;
        if (single_items_per_s == 0) single_items_per_s = items_per_s;
        fmt::print("batch {} {:>3}: {:>9.1f} items/s, {:.4f} ms a call (p50), {} calls ({} torch threads)\n",
                   r.spec.name, b, items_per_s, s.p50_ms, s.count, threads);
        result_line("batch")
            .add("model", r.spec.name)
            .add("threads", static_cast<std::uint64_t>(threads))
            .add("batch", static_cast<std::uint64_t>(b))
            .add("items_per_s", items_per_s, 1)
            .add("speedup", single_items_per_s > 0 ? items_per_s / single_items_per_s : 0.0, 2)
            .add(s)
            .print();
    }
    return 0;
}

sample_summary raw_replay(const torch_bench_options& o, const std::vector<std::int64_t>& text, std::size_t prompt_len,
                          std::uint32_t context) {
    use_torch_threads(o.threads);
    auto m = load_module(o.model);
    dry_run_like_the_agent(m, context);
    auto tokens = text; // from_blob needs non-const storage
    return timed_loop(bounds_of(o), [&] {
        for (std::size_t end = prompt_len; end < tokens.size(); ++end) {
            const std::size_t from = end > context ? end - context : 0;
            const auto window = static_cast<std::int64_t>(end - from);
            auto logits = call(m, torch::from_blob(tokens.data() + from, {1, window}, torch::kLong));
            (void)logits[0][window - 1].argmax().item<std::int64_t>();
        }
    });
}

} // namespace tether::bench

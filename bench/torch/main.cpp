// tether-torch-bench: the torch backend measured in one process (see
// bench/README.md, "Torch backend (issue 8)"):
//   direct    raw module.forward in a loop on the request's input (the upper bound)
//   backend   torch_backend::run on the same request (preprocessing, JSON, sampling)
//   generate  tokens/s of a text-generation model: backend vs raw forward loop
//   batch     raw forward items/s at several batch sizes
//   dynamic   torch_backend with N submitting threads: items/s and batch counters
// Every run is bounded by a count and a duration; figures are `RESULT` lines.
#include "backend_runs.hpp"
#include "bench_options.hpp"
#include "raw_runs.hpp"

#include "tether/shared/units.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <functional>
#include <stdexcept>

namespace {

using tether::bench::torch_bench_options;

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::chrono::milliseconds duration_flag(const std::string& flag, const std::string& text) {
    auto d = tether::parse_duration(text);
    if (!d || d->count() <= 0)
        throw usage_error(flag + ": expected a duration like 10s or 500ms, got \"" + text + "\"");
    return *d;
}

struct text_flags {
    std::string duration = "10s";
    std::uint32_t batch_wait_ms = 5;
};

void common_flags(CLI::App* sub, torch_bench_options& o, text_flags& t) {
    sub->add_option("--model", o.model, "The model, NAME.pt (its sidecar NAME.json beside it)")->required();
    sub->add_option("--threads", o.threads, "torch intra-op threads (0: libtorch's default)")->capture_default_str();
    sub->add_option("--warmup", o.warmup, "Calls or requests first, not timed")->capture_default_str();
    sub->add_option("--iterations", o.iterations, "Timed calls or requests (stop after)")->capture_default_str();
    sub->add_option("--duration", t.duration, "Stop timing after this long at the latest")->capture_default_str();
    sub->add_option("--prompt", o.prompt, "Prompt of text models (default: one that suits the task)");
    sub->add_option("--image", o.image, "Side of the generated square PNG for image models")->capture_default_str();
    sub->add_option("--max-tokens", o.max_tokens, "text-generation: tokens a request")->capture_default_str();
    sub->add_option("--seed", o.seed, "text-generation: sampling seed")->capture_default_str();
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "tether-torch-bench: the agent's torch backend against a raw TorchScript forward loop (CPU, in-process)"};
    app.require_subcommand(1);
    torch_bench_options o;
    text_flags t;
    std::function<int()> action;
    auto add = [&](const char* name, const char* help, std::function<int(const torch_bench_options&)> fn) {
        auto* sub = app.add_subcommand(name, help);
        common_flags(sub, o, t);
        sub->callback([&o, &action, fn] { action = [&o, fn] { return fn(o); }; });
        return sub;
    };
    add("direct", "Raw module.forward in a loop on the request's input", tether::bench::run_direct);
    add("backend", "torch_backend::run on the same request, capacity 1", tether::bench::run_backend);
    add("generate", "Generation tokens/s: backend vs the raw forward loop over the same windows",
        tether::bench::run_generate);
    auto* batch = add("batch", "Raw forward items/s at several batch sizes", tether::bench::run_batch);
    batch->add_option("--sizes", o.batch_sizes, "Batch sizes, comma-separated")->delimiter(',')->capture_default_str();
    auto* dynamic =
        add("dynamic", "torch_backend with several submitting threads: items/s, batches", tether::bench::run_dynamic);
    dynamic->add_option("--capacity", o.capacity, "The space's capacity (batching when > 1)")->capture_default_str();
    dynamic->add_option("--max-batch", o.max_batch, "Most items a forward call")->capture_default_str();
    dynamic->add_option("--submitters", o.submitters, "Threads calling run()")->capture_default_str();
    dynamic->add_option("--batch-wait-ms", t.batch_wait_ms, "How long a batch's first item waits for others")
        ->capture_default_str();

    try {
        app.parse(argc, argv);
        o.duration = duration_flag("--duration", t.duration);
        o.batch_wait = std::chrono::milliseconds(t.batch_wait_ms);
        if (o.iterations == 0) throw usage_error("--iterations: at least 1");
        if (o.image == 0 || o.image > 4096) throw usage_error("--image: 1 to 4096");
        if (o.submitters == 0 || o.submitters > 256) throw usage_error("--submitters: 1 to 256");
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const usage_error& e) {
        fmt::print(stderr, "tether-torch-bench: {}\n", e.what());
        return 2;
    }
    try {
        return action();
    } catch (const std::exception& e) {
        // A model that does not load, a request the model refuses: the setup is wrong.
        fmt::print(stderr, "tether-torch-bench: {}\n", e.what());
        return 1;
    }
}

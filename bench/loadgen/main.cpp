// tether-loadgen: the load generator of bench/ (see bench/README.md).
//   latency    POST + SSE to `completed`, few in flight; with --reference, the
//              same against the nginx hop, and the ratio of the two
//   throughput the same pattern with many in flight over one or more spaces;
//              --rate paces it, --sample-every tracks the broker's RSS (soak)
//   scale      N idle agent WebSockets and N idle SSE watchers; broker RSS
//   upload     multipart uploads streamed to a mock agent; MiB/s, broker peak RSS
//   upstream   the reference server nginx proxies to
// Flags are parsed here, once; a wrong flag exits with status 2.
#include "latency_stats.hpp"
#include "options.hpp"
#include "proc_status.hpp"
#include "request_flow.hpp"
#include "scale_run.hpp"
#include "upload_run.hpp"
#include "upstream_server.hpp"

#include "tether/shared/units.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <functional>
#include <stdexcept>

namespace {

using tether::bench::loadgen_options;

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::chrono::milliseconds duration_flag(const std::string& flag, const std::string& text) {
    auto d = tether::parse_duration(text);
    if (!d || d->count() <= 0) throw usage_error(flag + ": expected a duration like 10s or 500ms, got \"" + text + "\"");
    return *d;
}

std::uint64_t size_flag(const std::string& flag, const std::string& text) {
    auto s = tether::parse_size(text);
    if (!s || *s == 0) throw usage_error(flag + ": expected a size like 16MiB, got \"" + text + "\"");
    return *s;
}

struct text_flags {
    std::string duration = "30s";
    std::string timeout = "10s";
    std::string settle = "2s";
    std::string upload = "16MiB";
    std::string chunk = "256KiB";
    std::string lifetime = "15m";
    std::string sample_every; // empty: no sampling
};

void finish(loadgen_options& o, const text_flags& t) {
    o.duration = duration_flag("--duration", t.duration);
    o.timeout = duration_flag("--timeout", t.timeout);
    o.settle = duration_flag("--settle", t.settle);
    o.lifetime = duration_flag("--lifetime", t.lifetime);
    o.upload_bytes = size_flag("--size", t.upload);
    o.chunk_bytes = size_flag("--chunk", t.chunk);
    if (!t.sample_every.empty()) o.sample_every = duration_flag("--sample-every", t.sample_every);
    if (!(o.rate >= 0) || o.rate > 1e7) throw usage_error("--rate: 0 (unpaced) to 10000000 requests/s");
    if (o.spaces.empty()) throw usage_error("--space: at least one space");
    if (o.flow != "sse" && o.flow != "submit" && o.flow != "openai")
        throw usage_error("--flow: sse, submit or openai, got \"" + o.flow + "\"");
    if (o.concurrency == 0 || o.concurrency > 100'000) throw usage_error("--concurrency: 1 to 100000");
    if (o.api_key.empty())
        if (const char* k = std::getenv("TETHER_BENCH_KEY")) o.api_key = k;
    if (o.admin_key.empty())
        if (const char* k = std::getenv("TETHER_BENCH_ADMIN_KEY")) o.admin_key = k;
}

void common_flags(CLI::App* sub, loadgen_options& o, text_flags& t) {
    sub->add_option("--target", o.target, "Broker (or proxy) HOST:PORT")->capture_default_str();
    sub->add_option("--api-key", o.api_key, "Bearer key (default $TETHER_BENCH_KEY)");
    sub->add_option("--space", o.spaces, "Space(s) to submit to; comma-separated or repeated")
        ->delimiter(',')
        ->capture_default_str();
    sub->add_option("--requests", o.requests, "Counted requests (stop after)")->capture_default_str();
    sub->add_option("--duration", t.duration, "Stop after this long at the latest")->capture_default_str();
    sub->add_option("--timeout", t.timeout, "Timeout of each network step")->capture_default_str();
    sub->add_option("--broker-pid", o.broker_pid, "The broker's pid, to read its memory from /proc");
}

void flow_flags(CLI::App* sub, loadgen_options& o) {
    sub->add_option("--concurrency", o.concurrency, "Requests in flight")->capture_default_str();
    sub->add_option("--warmup", o.warmup, "Requests first, not counted")->capture_default_str();
    sub->add_option("--flow", o.flow, "sse: POST then events to completed; submit: POST only; openai: POST /v1/chat/completions (model = the space) until its answer")->capture_default_str();
    sub->add_option("--prompt", o.prompt, "Prompt text")->capture_default_str();
}

int run_latency(const loadgen_options& o) {
    using namespace tether::bench;
    auto tether_run = run_flow(o, o.target, "tether");
    print_flow(tether_run, o);
    if (o.reference.empty()) return tether_run.errors == 0 ? 0 : 1;
    auto ref = run_flow(o, o.reference, o.reference_label);
    print_flow(ref, o);
    auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
    const auto& a = tether_run.latency;
    const auto& b = ref.latency;
    fmt::print("tether / {} latency: p50 {:.2f}x  p90 {:.2f}x  p99 {:.2f}x; added p50 {:.3f} ms  p99 {:.3f} ms; "
               "req/s {:.2f}x\n",
               o.reference_label, ratio(a.p50_ms, b.p50_ms), ratio(a.p90_ms, b.p90_ms), ratio(a.p99_ms, b.p99_ms),
               a.p50_ms - b.p50_ms, a.p99_ms - b.p99_ms, ratio(tether_run.per_second, ref.per_second));
    fmt::print("RESULT label=ratio p50_x={:.3f} p90_x={:.3f} p99_x={:.3f} rps_x={:.3f} added_p50_ms={:.3f} "
               "added_p99_ms={:.3f}\n",
               ratio(a.p50_ms, b.p50_ms), ratio(a.p90_ms, b.p90_ms), ratio(a.p99_ms, b.p99_ms),
               ratio(tether_run.per_second, ref.per_second), a.p50_ms - b.p50_ms, a.p99_ms - b.p99_ms);
    return tether_run.errors == 0 && ref.errors == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"tether-loadgen: load, latency, scale and upload figures for tether-broker (loopback)"};
    app.require_subcommand(1);
    loadgen_options o;
    text_flags t;
    std::function<int()> action;

    auto* latency = app.add_subcommand("latency", "POST + SSE to completed; optional nginx-hop comparison");
    common_flags(latency, o, t);
    flow_flags(latency, o);
    latency->add_option("--reference", o.reference, "HOST:PORT of nginx in front of `tether-loadgen upstream`");
    latency->add_option("--reference-label", o.reference_label, "What --reference is (nginx-hop, direct)")->capture_default_str();
    latency->callback([&] { action = [&] { return run_latency(o); }; });

    auto* throughput = app.add_subcommand("throughput", "Many requests in flight over one or more spaces");
    common_flags(throughput, o, t);
    flow_flags(throughput, o);
    throughput->add_option("--rate", o.rate,
                           "Pace starts at this many requests/s (0: unpaced); at most --concurrency in flight")
        ->capture_default_str();
    throughput->add_option("--sample-every", t.sample_every,
                           "With --broker-pid: sample the broker's RSS and open files this often (e.g. 10s)");
    throughput->callback([&] {
        action = [&] {
            auto r = tether::bench::run_flow(o, o.target, "throughput");
            tether::bench::print_flow(r, o);
            return r.errors == 0 && (o.flow != "submit" || r.drained) ? 0 : 1;
        };
    });

    auto* scale = app.add_subcommand("scale", "Idle agent connections and SSE watchers; broker RSS per connection");
    common_flags(scale, o, t);
    scale->add_option("--admin-key", o.admin_key, "An admin's key to create spaces (default $TETHER_BENCH_ADMIN_KEY)");
    scale->add_option("--agents", o.idle_agents, "Idle agent WebSockets, one space each")->capture_default_str();
    scale->add_option("--watchers", o.idle_watchers, "Idle SSE watchers")->capture_default_str();
    scale->add_option("--space-prefix", o.space_prefix, "Name prefix of the spaces it creates")->capture_default_str();
    scale->add_option("--settle", t.settle, "Wait before each RSS reading")->capture_default_str();
    scale->callback([&] {
        action = [&] {
            // Each idle connection is a descriptor here too.
            fmt::print("scale: loadgen open-file limit {}\n", tether::bench::raise_own_open_file_limit());
            return tether::bench::run_scale(o);
        };
    });

    auto* upload = app.add_subcommand("upload", "Multipart uploads to a mock agent; MiB/s and broker peak RSS");
    common_flags(upload, o, t);
    upload->add_option("--size", t.upload, "Bytes per upload")->capture_default_str();
    upload->add_option("--chunk", t.chunk, "Bytes per write")->capture_default_str();
    upload->add_option("--field", o.upload_field, "Form field: file, audio or video")->capture_default_str();
    upload->callback([&] { action = [&] { return tether::bench::run_uploads(o); }; });

    auto* upstream = app.add_subcommand("upstream", "The reference upstream for the nginx hop");
    upstream->add_option("--listen", o.listen, "HOST:PORT (port 0: any free port)")->capture_default_str();
    upstream->add_option("--port-file", o.port_file, "Write the port here once listening");
    upstream->add_option("--lifetime", t.lifetime, "Exit after this long at the latest")->capture_default_str();
    upstream->callback([&] { action = [&] { return tether::bench::run_upstream(o); }; });

    try {
        app.parse(argc, argv);
        finish(o, t);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const usage_error& e) {
        fmt::print(stderr, "tether-loadgen: {}\n", e.what());
        return 2;
    }
    try {
        return action();
    } catch (const std::exception& e) {
        // Start-up failures only (a bad address, a port in use): I/O errors are values.
        fmt::print(stderr, "tether-loadgen: {}\n", e.what());
        return 1;
    }
}

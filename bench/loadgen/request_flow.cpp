#include "request_flow.hpp"

#include "http_io.hpp"
#include "proc_status.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>

namespace tether::bench {

namespace http = beast::http;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_between(clock_type::time_point a, clock_type::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

struct flow_state {
    flow_state(const loadgen_options& opts, http_target t, clock_type::time_point until)
        : o(opts), target(std::move(t)), deadline(until) {}

    const loadgen_options& o;
    http_target target;
    clock_type::time_point deadline;
    std::uint64_t started = 0;
    std::uint64_t unscheduled = 0; // --rate: slots taken but due after the deadline, never run
    std::uint64_t error_cap = 0;
    clock_type::time_point paced_from{}; // --rate: when slot 0 was due
    unsigned active_workers = 0;
    asio::steady_timer* sampler_wake = nullptr; // cancelled by the last worker to leave
    std::optional<clock_type::time_point> measure_from; // when the first counted request started
    clock_type::time_point last_end{};
    latency_stats latency;
    flow_report report;

    bool may_start() const {
        return started < o.warmup + o.requests && report.errors < error_cap && clock_type::now() < deadline;
    }
    void fail(const std::string& kind, const std::string& detail = {}) {
        ++report.errors;
        if (++report.error_kinds[kind] == 1 && !detail.empty()) report.error_samples[kind] = detail;
    }
};

std::string json_escaped(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
    return out;
}

// The OpenAI flow's body: the space is the model.
std::string chat_body(const std::string& space, const std::string& prompt) {
    std::string out = "{\"model\":\"";
    out += json_escaped(space);
    out += "\",\"messages\":[{\"role\":\"user\",\"content\":\"";
    out += json_escaped(prompt);
    out += "\"}]}";
    return out;
}

std::string prompt_body(const std::string& prompt) {
    std::string out = "{\"prompt\":\"";
    out += json_escaped(prompt);
    out += "\"}";
    return out;
}

asio::awaitable<void> worker(flow_state& st, std::size_t index) {
    auto ex = co_await asio::this_coro::executor;
    beast::tcp_stream conn(ex);
    beast::flat_buffer buffer;
    const std::string& space = st.o.spaces[index % st.o.spaces.size()];
    const bool openai = st.o.flow == "openai";
    const std::string path = openai ? "/v1/chat/completions" : "/api/spaces/" + space + "/requests";
    const std::string body = openai ? chat_body(space, st.o.prompt) : prompt_body(st.o.prompt);
    const bool watch = st.o.flow == "sse";
    asio::steady_timer pause(ex);

    while (st.may_start()) {
        const std::uint64_t seq = st.started++;
        if (st.o.rate > 0) {
            const auto due = st.paced_from + std::chrono::duration_cast<clock_type::duration>(
                                                 std::chrono::duration<double>(static_cast<double>(seq) / st.o.rate));
            if (due >= st.deadline) {
                ++st.unscheduled;
                break;
            }
            if (const auto now = clock_type::now(); due > now) {
                pause.expires_at(due);
                co_await pause.async_wait(nothrow);
            } else if (now - due > std::chrono::milliseconds(10)) {
                ++st.report.late_starts;
            }
        }
        const auto t0 = clock_type::now();
        if (seq == st.o.warmup) st.measure_from = t0;
        auto reply = co_await exchange(conn, buffer, st.target, http::verb::post, path, body, "application/json");
        // openai: one exchange is the whole request (200 with the assistant's
        // message); otherwise a 202 with the id, then (sse) its event stream.
        const bool answered = openai ? reply.status == 200 && reply.body.find("\"choices\"") != std::string::npos
                                     : reply.status == 202;
        if (!answered) {
            st.fail(reply.status == 0 ? "transport: " + reply.ec.message() : "status " + std::to_string(reply.status),
                    reply.body.substr(0, 200));
            // 429 or a refused connection: do not spin.
            pause.expires_after(std::chrono::milliseconds(20));
            co_await pause.async_wait(nothrow);
            continue;
        }
        if (!openai) {
            auto id = request_id_of(reply.body);
            if (!id) {
                st.fail("202 without request_id");
                continue;
            }
            if (watch) {
                std::string detail;
                auto outcome = co_await watch_until_terminal(st.target, "/api/requests/" + *id + "/events", &detail);
                if (outcome != stream_outcome::completed) {
                    st.fail(std::string("stream: ") + to_string(outcome), detail);
                    continue;
                }
            }
        }
        const auto t1 = clock_type::now();
        if (seq >= st.o.warmup) {
            st.latency.add(t1 - t0);
            ++st.report.completed;
            st.last_end = std::max(st.last_end, t1);
        }
    }
    error_code ignored;
    conn.socket().shutdown(tcp::socket::shutdown_both, ignored);
    conn.socket().close(ignored);
    if (--st.active_workers == 0 && st.sampler_wake) st.sampler_wake->cancel();
}

// --sample-every: the broker's RSS and open files now, then every interval
// until the last worker leaves (which wakes it for a last sample).
asio::awaitable<void> sample_broker(flow_state& st, clock_type::time_point t_start) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    st.sampler_wake = &timer;
    auto next = t_start;
    for (;;) {
        const auto now = clock_type::now();
        if (auto m = read_memory(st.o.broker_pid)) {
            memory_sample s{seconds_between(t_start, now), m->rss_kib, count_open_files(st.o.broker_pid).value_or(0)};
            st.report.memory.push_back(s);
            fmt::print("SAMPLE label={} t_s={:.1f} rss_kib={} open_files={} started={} completed={} errors={}\n",
                       st.report.label, s.t_s, s.rss_kib, s.open_files, st.started, st.report.completed,
                       st.report.errors);
            std::fflush(stdout);
        }
        if (st.active_workers == 0) break;
        next += st.o.sample_every;
        timer.expires_at(next);
        co_await timer.async_wait(nothrow);
    }
    st.sampler_wake = nullptr;
}

// Polls /metrics until `expected` more requests completed in the run's spaces
// than `baseline` (bounded by `limit`). The moment it saw that, or nullopt.
asio::awaitable<std::optional<clock_type::time_point>> wait_drained(const http_target& t, const loadgen_options& o,
                                                                    std::uint64_t baseline, std::uint64_t expected,
                                                                    std::chrono::milliseconds limit) {
    auto ex = co_await asio::this_coro::executor;
    beast::tcp_stream conn(ex);
    beast::flat_buffer buffer;
    asio::steady_timer pause(ex);
    const auto until = clock_type::now() + limit;
    while (clock_type::now() < until) {
        auto r = co_await exchange(conn, buffer, t, http::verb::get, "/metrics", "", "");
        if (r.status == 200 && completed_in_metrics(r.body, o.spaces) >= baseline + expected) co_return clock_type::now();
        pause.expires_after(std::chrono::milliseconds(20));
        co_await pause.async_wait(nothrow);
    }
    co_return std::nullopt;
}

asio::awaitable<std::uint64_t> completed_now(const http_target& t, const loadgen_options& o) {
    beast::tcp_stream conn(co_await asio::this_coro::executor);
    beast::flat_buffer buffer;
    auto r = co_await exchange(conn, buffer, t, http::verb::get, "/metrics", "", "");
    co_return r.status == 200 ? completed_in_metrics(r.body, o.spaces) : 0;
}

} // namespace

std::uint64_t completed_in_metrics(const std::string& body, const std::vector<std::string>& spaces) {
    std::uint64_t total = 0;
    std::string_view rest(body);
    while (!rest.empty()) {
        auto nl = rest.find('\n');
        auto line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
        if (!line.starts_with("tether_requests_total{") || line.find("outcome=\"completed\"") == std::string_view::npos)
            continue;
        const bool ours = std::any_of(spaces.begin(), spaces.end(), [&](const std::string& s) {
            return line.find("space=\"" + s + "\"") != std::string_view::npos;
        });
        if (!ours) continue;
        auto sp = line.rfind(' ');
        std::uint64_t n = 0;
        auto value = line.substr(sp + 1);
        std::from_chars(value.data(), value.data() + value.size(), n);
        total += n;
    }
    return total;
}

flow_report run_flow(const loadgen_options& o, const std::string& target, const std::string& label) {
    asio::io_context ioc(1);
    flow_state st(o, make_target(target, o.api_key, o.timeout), clock_type::now() + o.duration);
    st.error_cap = std::max<std::uint64_t>(100, (o.requests + o.warmup) / 20);
    st.report.label = label;
    st.report.target = target;

    const bool submit_only = o.flow == "submit";
    std::uint64_t baseline = 0;
    if (submit_only) {
        asio::co_spawn(ioc, completed_now(st.target, o), [&](std::exception_ptr, std::uint64_t n) { baseline = n; });
        ioc.run();
        ioc.restart();
    }
    st.paced_from = clock_type::now();
    st.active_workers = std::max(1U, o.concurrency);
    for (unsigned i = 0; i < st.active_workers; ++i) asio::co_spawn(ioc, worker(st, i), asio::detached);
    if (o.broker_pid > 0 && o.sample_every.count() > 0)
        asio::co_spawn(ioc, sample_broker(st, st.paced_from), asio::detached);
    ioc.run();

    auto& r = st.report;
    r.latency = st.latency.summarize();
    if (st.measure_from && r.completed > 0) {
        r.seconds = seconds_between(*st.measure_from, st.last_end);
        r.per_second = r.seconds > 0 ? static_cast<double>(r.completed) / r.seconds : 0;
    }
    if (submit_only && st.measure_from) {
        // The warm-up requests complete too; wait for all that were accepted.
        const std::uint64_t accepted = st.started - st.unscheduled - r.errors;
        ioc.restart();
        std::optional<clock_type::time_point> done;
        asio::co_spawn(ioc, wait_drained(st.target, o, baseline, accepted, std::chrono::seconds(120)),
                       [&](std::exception_ptr, std::optional<clock_type::time_point> t) { done = t; });
        ioc.run();
        if (done) {
            r.drained = true;
            r.drain_seconds = seconds_between(*st.measure_from, *done);
            r.completed_per_second = r.drain_seconds > 0 ? static_cast<double>(r.completed) / r.drain_seconds : 0;
        }
    }
    return r;
}

void print_flow(const flow_report& r, const loadgen_options& o) {
    const auto& l = r.latency;
    fmt::print("{:<14} {} flow={} conc={} spaces={}: {} ok, {} errors in {:.2f} s = {:.0f} req/s; "
               "latency ms p50 {:.3f} p90 {:.3f} p99 {:.3f} max {:.3f} mean {:.3f}\n",
               r.label, r.target, o.flow, o.concurrency, o.spaces.size(), r.completed, r.errors, r.seconds,
               r.per_second, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms);
    if (o.flow == "submit")
        fmt::print("{:<14} all accepted requests completed ({}) after {:.2f} s = {:.0f} completed/s\n", r.label,
                   r.drained ? "yes" : "NO, gave up after 120 s", r.drain_seconds, r.completed_per_second);
    for (const auto& [kind, n] : r.error_kinds) {
        fmt::print("{:<14}   error {}: {}\n", r.label, kind, n);
        if (auto it = r.error_samples.find(kind); it != r.error_samples.end())
            fmt::print("{:<14}     first: {}\n", r.label, it->second);
    }
    if (o.rate > 0)
        fmt::print("{:<14} paced at {:.0f} req/s: achieved {:.0f} req/s, {} starts more than 10 ms late\n", r.label, o.rate,
                   r.per_second, r.late_starts);
    fmt::print("RESULT label={} flow={} conc={} spaces={} ok={} errors={} seconds={:.3f} rps={:.1f} p50_ms={:.3f} "
               "p90_ms={:.3f} p99_ms={:.3f} max_ms={:.3f} mean_ms={:.3f} drained={} completed_rps={:.1f} "
               "target_rps={:.1f} late_starts={}\n",
               r.label, o.flow, o.concurrency, o.spaces.size(), r.completed, r.errors, r.seconds, r.per_second,
               l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms, r.drained ? 1 : 0, r.completed_per_second, o.rate,
               r.late_starts);
    if (!r.memory.empty()) {
        const auto m = summarize_trend(r.memory);
        fmt::print("{:<14} broker RSS over {:.0f} s ({} samples): start {} KiB, middle {}, end {}, peak {}; slope "
                   "{:+.1f} KiB/min (second half {:+.1f}); open files {} -> {}\n",
                   r.label, r.memory.back().t_s, m.samples, m.start_kib, m.mid_kib, m.end_kib, m.peak_kib,
                   m.slope_kib_per_min, m.second_half_slope_kib_per_min, m.open_files_start, m.open_files_end);
        fmt::print("RESULT label={}-memory samples={} seconds={:.1f} start_kib={} mid_kib={} end_kib={} peak_kib={} "
                   "slope_kib_min={:.1f} slope2_kib_min={:.1f} fds_start={} fds_end={}\n",
                   r.label, m.samples, r.memory.back().t_s, m.start_kib, m.mid_kib, m.end_kib, m.peak_kib,
                   m.slope_kib_per_min, m.second_half_slope_kib_per_min, m.open_files_start, m.open_files_end);
    }
    std::fflush(stdout);
}

} // namespace tether::bench

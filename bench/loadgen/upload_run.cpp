#include "upload_run.hpp"

#include "http_io.hpp"
#include "proc_status.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace tether::bench {

namespace http = beast::http;
using clock_type = std::chrono::steady_clock;

namespace {

struct upload_totals {
    std::uint64_t done = 0;
    std::uint64_t errors = 0;
    std::string first_error;
    double upload_seconds = 0; // sum over uploads: first byte sent -> 202
    double total_seconds = 0;  // sum over uploads: first byte sent -> completed
    std::uint64_t peak_sampled_kib = 0;
    bool finished = false;
};

// One multipart upload on a fresh connection; the 202's request id.
asio::awaitable<std::optional<std::string>> upload_one(const loadgen_options& o, const http_target& t,
                                                       const std::string& space, const std::string& pattern,
                                                       upload_totals& totals) {
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    if (auto ec = co_await connect_to(stream, t)) {
        totals.first_error = "connect: " + ec.message();
        co_return std::nullopt;
    }
    const std::string boundary = "tether-bench-boundary-7f3a9c";
    const std::string head = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + o.upload_field +
                             "\"; filename=\"bench.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n";
    const std::string tail = "\r\n--" + boundary + "--\r\n";
    const std::uint64_t length = head.size() + o.upload_bytes + tail.size();
    std::string req = fmt::format("POST /api/spaces/{}/requests HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n"
                                  "Content-Type: multipart/form-data; boundary={}\r\nContent-Length: {}\r\n\r\n",
                                  space, t.host_header, t.bearer, boundary, length);
    req += head;
    stream.expires_after(t.timeout);
    if (auto [ec, n] = co_await asio::async_write(stream, asio::buffer(req), nothrow); ec) {
        totals.first_error = "write: " + ec.message();
        co_return std::nullopt;
    }
    for (std::uint64_t sent = 0; sent < o.upload_bytes;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(pattern.size(), o.upload_bytes - sent));
        stream.expires_after(t.timeout);
        if (auto [ec, w] = co_await asio::async_write(stream, asio::buffer(pattern.data(), n), nothrow); ec) {
            totals.first_error = "write body: " + ec.message();
            co_return std::nullopt;
        }
        sent += n;
    }
    stream.expires_after(t.timeout);
    if (auto [ec, n] = co_await asio::async_write(stream, asio::buffer(tail), nothrow); ec) {
        totals.first_error = "write tail: " + ec.message();
        co_return std::nullopt;
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1U << 20);
    stream.expires_after(t.timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, nothrow);
    if (ec || parser.get().result_int() != 202) {
        totals.first_error = ec ? "read: " + ec.message()
                                : fmt::format("status {}: {}", parser.get().result_int(), parser.get().body());
        co_return std::nullopt;
    }
    co_return request_id_of(parser.get().body());
}

asio::awaitable<void> upload_all(const loadgen_options& o, upload_totals& totals) {
    const auto t = make_target(o.target, o.api_key, o.timeout);
    std::string pattern(static_cast<std::size_t>(std::max<std::uint64_t>(4096, o.chunk_bytes)), '\0');
    for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<char>('a' + (i * 7) % 26);
    const auto deadline = clock_type::now() + o.duration;
    for (std::uint64_t i = 0; i < o.requests && clock_type::now() < deadline && totals.errors < 3; ++i) {
        const auto t0 = clock_type::now();
        auto id = co_await upload_one(o, t, o.spaces.front(), pattern, totals);
        const auto t1 = clock_type::now();
        if (!id) {
            ++totals.errors;
            continue;
        }
        auto outcome = co_await watch_until_terminal(t, "/api/requests/" + *id + "/events");
        const auto t2 = clock_type::now();
        if (outcome != stream_outcome::completed) {
            ++totals.errors;
            if (totals.first_error.empty()) totals.first_error = std::string("stream: ") + to_string(outcome);
            continue;
        }
        ++totals.done;
        totals.upload_seconds += std::chrono::duration<double>(t1 - t0).count();
        totals.total_seconds += std::chrono::duration<double>(t2 - t0).count();
    }
    totals.finished = true;
}

// Samples VmRSS every 20 ms while the uploads run: a second view of the peak
// that does not depend on clear_refs being allowed.
asio::awaitable<void> sample_rss(int pid, upload_totals& totals) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (!totals.finished) {
        if (auto m = read_memory(pid)) totals.peak_sampled_kib = std::max(totals.peak_sampled_kib, m->rss_kib);
        timer.expires_after(std::chrono::milliseconds(20));
        co_await timer.async_wait(nothrow);
    }
}

} // namespace

int run_uploads(const loadgen_options& o) {
    asio::io_context ioc(1);
    upload_totals totals;
    std::optional<memory_figures> before;
    bool reset = false;
    if (o.broker_pid > 0) {
        reset = reset_peak(o.broker_pid);
        before = read_memory(o.broker_pid);
        asio::co_spawn(ioc, sample_rss(o.broker_pid, totals), asio::detached);
    }
    asio::co_spawn(ioc, upload_all(o, totals), asio::detached);
    ioc.run();
    std::optional<memory_figures> after;
    if (o.broker_pid > 0) after = read_memory(o.broker_pid);

    const double mib = static_cast<double>(o.upload_bytes) / (1 << 20);
    const double moved = mib * static_cast<double>(totals.done);
    const double up_rate = totals.upload_seconds > 0 ? moved / totals.upload_seconds : 0;
    const double e2e_rate = totals.total_seconds > 0 ? moved / totals.total_seconds : 0;
    const std::uint64_t base = before ? before->rss_kib : 0;
    const std::uint64_t hwm = after ? after->hwm_kib : 0;
    fmt::print("uploads: {} x {:.1f} MiB done, {} errors; to 202: {:.1f} MiB/s; to completed (agent got every byte): "
               "{:.1f} MiB/s\n",
               totals.done, mib, totals.errors, up_rate, e2e_rate);
    if (o.broker_pid > 0)
        fmt::print("uploads: broker RSS before {} KiB, peak {} KiB (VmHWM{}), sampled peak {} KiB, peak - before = "
                   "{} KiB\n",
                   base, hwm, reset ? ", reset before the run" : ", NOT reset: lifetime peak", totals.peak_sampled_kib,
                   static_cast<long long>(std::max(hwm, totals.peak_sampled_kib)) - static_cast<long long>(base));
    if (!totals.first_error.empty()) fmt::print("uploads: first error: {}\n", totals.first_error);
    fmt::print("RESULT label=uploads count={} mib_each={:.1f} errors={} upload_mib_s={:.1f} e2e_mib_s={:.1f} "
               "rss_before_kib={} hwm_kib={} sampled_peak_kib={} hwm_reset={}\n",
               totals.done, mib, totals.errors, up_rate, e2e_rate, base, hwm, totals.peak_sampled_kib, reset ? 1 : 0);
    std::fflush(stdout);
    return totals.errors == 0 ? 0 : 1;
}

} // namespace tether::bench

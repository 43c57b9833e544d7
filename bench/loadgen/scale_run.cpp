#include "scale_run.hpp"

#include "http_io.hpp"
#include "proc_status.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>

#include <fmt/format.h>

#include <memory>
#include <random>
#include <vector>

namespace tether::bench {

namespace http = beast::http;
namespace websocket = beast::websocket;
using clock_type = std::chrono::steady_clock;
using ws_stream = websocket::stream<beast::tcp_stream>;

namespace {

constexpr unsigned parallel_connects = 64;

struct scale_state {
    scale_state(const loadgen_options& opts, http_target a, http_target u, clock_type::time_point until)
        : o(opts), admin(std::move(a)), user(std::move(u)), deadline(until) {}

    const loadgen_options& o;
    http_target admin;
    http_target user;
    clock_type::time_point deadline;
    std::string run_tag;
    std::vector<std::pair<std::string, std::string>> spaces; // name, token
    std::vector<std::shared_ptr<ws_stream>> agents;
    std::vector<std::shared_ptr<beast::tcp_stream>> watchers;
    std::size_t next = 0;
    unsigned registered = 0;
    unsigned watching = 0;
    std::uint64_t failures = 0;
    std::string first_failure;

    void fail(std::string why) {
        if (failures++ == 0) first_failure = std::move(why);
    }
    bool in_time() const { return clock_type::now() < deadline; }
};

std::string random_instance() {
    std::random_device rd;
    std::mt19937_64 g(rd());
    return fmt::format("{:016x}{:016x}", g(), g());
}

std::optional<std::string> json_string_at(std::string_view body, std::string_view key) {
    const std::string needle = "\"" + std::string(key) + "\":\"";
    auto at = body.find(needle);
    if (at == std::string_view::npos) return std::nullopt;
    at += needle.size();
    auto end = body.find('"', at);
    if (end == std::string_view::npos) return std::nullopt;
    return std::string(body.substr(at, end - at));
}

// Creates spaces until `count` exist (parallel_connects at a time).
asio::awaitable<void> space_maker(scale_state& st, std::size_t count) {
    beast::tcp_stream conn(co_await asio::this_coro::executor);
    beast::flat_buffer buffer;
    while (st.next < count && st.in_time() && st.failures < 20) {
        const std::size_t i = st.next++;
        const std::string name = fmt::format("{}-{}-{}", st.o.space_prefix, st.run_tag, i);
        auto r = co_await exchange(conn, buffer, st.admin, http::verb::post, "/api/admin/spaces",
                                   "{\"name\":\"" + name + "\",\"timeout_s\":3600}", "application/json");
        auto token = json_string_at(r.body, "token");
        if (r.status != 201 || !token) {
            st.fail(fmt::format("create space {}: status {} {} {}", name, r.status, r.ec.message(), r.body));
            continue;
        }
        st.spaces[i] = {name, *token};
    }
}

asio::awaitable<void> hold_agent(std::shared_ptr<ws_stream> ws) {
    beast::flat_buffer buffer;
    while (true) {
        // Reading keeps answering the broker's pings; an error ends the loop.
        auto [ec, n] = co_await ws->async_read(buffer, nothrow);
        if (ec) break;
        buffer.consume(buffer.size());
    }
}

asio::awaitable<void> agent_connector(scale_state& st, std::size_t count) {
    auto ex = co_await asio::this_coro::executor;
    while (st.next < count && st.in_time() && st.failures < 20) {
        const std::size_t i = st.next++;
        const auto& [space, token] = st.spaces[i];
        if (token.empty()) continue;
        auto ws = std::make_shared<ws_stream>(ex);
        if (auto ec = co_await connect_to(ws->next_layer(), st.user)) {
            st.fail("agent connect: " + ec.message());
            continue;
        }
        ws->next_layer().expires_never();
        ws->set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
        if (auto [ec] = co_await ws->async_handshake(st.user.host_header, "/agent", nothrow); ec) {
            st.fail("agent handshake: " + ec.message());
            continue;
        }
        const std::string reg = fmt::format(
            R"({{"type":"register","protocol":1,"agent":{{"name":"bench-idle","version":"0.1.0","instance":"{}"}},)"
            R"("spaces":[{{"space":"{}","token":"{}","capacity":1}}]}})",
            random_instance(), space, token);
        ws->text(true);
        if (auto [ec, n] = co_await ws->async_write(asio::buffer(reg), nothrow); ec) {
            st.fail("agent register: " + ec.message());
            continue;
        }
        beast::flat_buffer buffer;
        auto [ec, n] = co_await ws->async_read(buffer, nothrow);
        const auto answer = beast::buffers_to_string(buffer.data());
        if (ec || answer.find("\"registered\"") == std::string::npos || answer.find("\"ok\":true") == std::string::npos) {
            st.fail("agent registered: " + (ec ? ec.message() : answer));
            continue;
        }
        ++st.registered;
        st.agents.push_back(ws);
        asio::co_spawn(ex, hold_agent(ws), asio::detached);
    }
}

asio::awaitable<void> hold_watcher(std::shared_ptr<beast::tcp_stream> s) {
    std::array<char, 1024> sink{};
    while (true) {
        auto [ec, n] = co_await s->async_read_some(asio::buffer(sink), nothrow);
        if (ec) break;
    }
}

asio::awaitable<void> watcher_connector(scale_state& st, std::size_t count, std::string path) {
    auto ex = co_await asio::this_coro::executor;
    while (st.next < count && st.in_time() && st.failures < 20) {
        ++st.next;
        auto s = std::make_shared<beast::tcp_stream>(ex);
        if (auto ec = co_await connect_to(*s, st.user)) {
            st.fail("watcher connect: " + ec.message());
            continue;
        }
        const std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + st.user.host_header +
                                "\r\nAccept: text/event-stream\r\nAuthorization: Bearer " + st.user.bearer + "\r\n\r\n";
        co_await asio::async_write(*s, asio::buffer(req), nothrow);
        // Established once the header and the first event (queued) arrived.
        std::string seen;
        std::array<char, 2048> chunk{};
        bool ok = false;
        while (seen.size() < 16384) {
            auto [ec, n] = co_await s->async_read_some(asio::buffer(chunk), nothrow);
            if (ec) break;
            seen.append(chunk.data(), n);
            if (seen.find("\r\n\r\n") != std::string::npos && seen.find("event: ") != std::string::npos) {
                ok = seen.starts_with("HTTP/1.1 200");
                break;
            }
        }
        if (!ok) {
            st.fail("watcher: " + seen.substr(0, 200));
            continue;
        }
        s->expires_never();
        ++st.watching;
        st.watchers.push_back(s);
        asio::co_spawn(ex, hold_watcher(s), asio::detached);
    }
}

asio::awaitable<void> settle(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(d);
    co_await t.async_wait(nothrow);
}

asio::awaitable<std::optional<std::string>> submit_one(scale_state& st, const std::string& space) {
    beast::tcp_stream conn(co_await asio::this_coro::executor);
    beast::flat_buffer buffer;
    auto r = co_await exchange(conn, buffer, st.user, http::verb::post, "/api/spaces/" + space + "/requests",
                               R"({"prompt":"watched"})", "application/json");
    if (r.status != 202) st.fail(fmt::format("submit to {}: status {} {}", space, r.status, r.body));
    co_return request_id_of(r.body);
}

double kib_per(std::uint64_t before, std::uint64_t after, unsigned n) {
    return n == 0 ? 0.0 : (static_cast<double>(after) - static_cast<double>(before)) / n;
}

} // namespace

int run_scale(const loadgen_options& o) {
    if (o.broker_pid <= 0) {
        fmt::print(stderr, "scale: --broker-pid is required\n");
        return 2;
    }
    asio::io_context ioc(1);
    // Steps run the io_context in slices; the guard keeps it from stopping between them.
    auto guard = asio::make_work_guard(ioc);
    scale_state st(o, make_target(o.target, o.admin_key, o.timeout), make_target(o.target, o.api_key, o.timeout),
                   clock_type::now() + o.duration);
    st.run_tag = random_instance().substr(0, 6);
    const unsigned n = o.idle_agents;
    // Spaces: one per agent, plus one with no agent whose request the watchers watch.
    st.spaces.resize(n + 1);
    auto run = [&](auto make) {
        for (unsigned i = 0; i < parallel_connects; ++i) asio::co_spawn(ioc, make(), asio::detached);
        ioc.run_for(std::chrono::milliseconds(0)); // start them; the caller drives the rest
    };
    auto drive_until = [&](auto done) {
        while (!done() && st.in_time() && st.failures < 20) ioc.run_for(std::chrono::milliseconds(20));
    };
    auto mem = [&] { return read_memory(o.broker_pid).value_or(memory_figures{}); };

    const auto before_spaces = mem();
    st.next = 0;
    run([&] { return space_maker(st, n + 1); });
    drive_until([&] { return st.next >= n + 1 && std::all_of(st.spaces.begin(), st.spaces.end(), [](auto& s) { return !s.second.empty(); }); });
    const auto settle_now = [&] {
        asio::co_spawn(ioc, settle(o.settle), asio::detached);
        ioc.run_for(o.settle + std::chrono::milliseconds(50));
    };
    settle_now();
    const auto m0 = mem();

    st.next = 0;
    run([&] { return agent_connector(st, n); });
    drive_until([&] { return st.registered + st.failures >= n; });
    settle_now();
    const auto m1 = mem();

    std::optional<std::string> watched;
    asio::co_spawn(ioc, submit_one(st, st.spaces[n].first), [&](std::exception_ptr, std::optional<std::string> id) {
        watched = std::move(id);
    });
    drive_until([&] { return watched.has_value(); });
    settle_now();
    const auto m2 = mem();
    if (watched) {
        st.next = 0;
        const std::string path = "/api/requests/" + *watched + "/events";
        run([&] { return watcher_connector(st, o.idle_watchers, path); });
        drive_until([&] { return st.watching + st.failures >= o.idle_watchers; });
        settle_now();
    }
    const auto m3 = mem();
    const auto broker_files = count_open_files(o.broker_pid).value_or(0);

    fmt::print("scale: spaces {} (+{} KiB RSS, {:.1f} KiB each); agents registered {}/{}: RSS {} -> {} KiB = {:.1f} KiB "
               "per agent connection; watchers {}/{}: RSS {} -> {} KiB = {:.1f} KiB per SSE watcher\n",
               n + 1, static_cast<long long>(m0.rss_kib) - static_cast<long long>(before_spaces.rss_kib),
               kib_per(before_spaces.rss_kib, m0.rss_kib, n + 1), st.registered, n, m0.rss_kib, m1.rss_kib,
               kib_per(m0.rss_kib, m1.rss_kib, st.registered), st.watching, o.idle_watchers, m2.rss_kib, m3.rss_kib,
               kib_per(m2.rss_kib, m3.rss_kib, st.watching));
    fmt::print("scale: broker open files with everything connected: {}\n", broker_files);
    if (st.failures > 0) fmt::print("scale: {} failures, first: {}\n", st.failures, st.first_failure);
    fmt::print("RESULT label=scale agents={} watchers={} rss_base_kib={} rss_agents_kib={} rss_watchers_kib={} "
               "kib_per_agent={:.2f} kib_per_watcher={:.2f} kib_per_space={:.2f} failures={} broker_fds={}\n",
               st.registered, st.watching, m0.rss_kib, m1.rss_kib, m3.rss_kib, kib_per(m0.rss_kib, m1.rss_kib, st.registered),
               kib_per(m2.rss_kib, m3.rss_kib, st.watching), kib_per(before_spaces.rss_kib, m0.rss_kib, n + 1),
               st.failures, broker_files);
    std::fflush(stdout);

    // Close everything we opened, then let the io_context finish the readers.
    // Abortive closes: 20,000 TIME_WAIT sockets would hold most of loopback's
    // ephemeral ports (32768-60999) for a minute and fail the next run's connects.
    error_code ignored;
    const asio::socket_base::linger abort_close(true, 0);
    for (auto& ws : st.agents) {
        beast::get_lowest_layer(*ws).socket().set_option(abort_close, ignored);
        beast::get_lowest_layer(*ws).socket().close(ignored);
    }
    for (auto& w : st.watchers) {
        w->socket().set_option(abort_close, ignored);
        w->socket().close(ignored);
    }
    guard.reset();
    ioc.run_for(std::chrono::seconds(2));
    return st.registered == n && st.watching == o.idle_watchers ? 0 : 1;
}

} // namespace tether::bench

// http_call against an upstream written here: the body is handed over as it
// arrives (not when a buffer fills), a reset is an error after the pieces
// before it, the deadline and cancellation close the connection.
#include "backends/upstream/http_call.hpp"

#include "testkit/test_upstream.hpp"
#include "testkit/wait.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace tether::agent;
using namespace tether::testkit;
using namespace std::chrono_literals;

namespace {

upstream_url url_of(const test_upstream& up) {
    std::string error;
    return *parse_upstream_url(up.url("/stream"), error);
}

void slow_stream(const upstream_request&, upstream_conn& c) {
    c.chunked_head(200, "text/event-stream");
    c.chunk("data: one\n\n");
    c.pause(400ms);
    c.chunk("data: two\n\n");
    c.pause(400ms);
    if (c.chunk("data: three\n\n")) c.end();
}

} // namespace

TEST_CASE("an upstream's body is handed over piece by piece as it arrives", "[upstream]") {
    test_upstream up(slow_stream);
    cancellation_token cancel;
    std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> pieces;
    const auto start = std::chrono::steady_clock::now();
    http_request_spec req;
    req.target = "/stream";
    http_call_limits limits;
    const auto r = http_call(
        url_of(up), nullptr, req, cancel, [](const http_head& h) { return h.status == 200; },
        [&](std::string_view b) {
            pieces.emplace_back(std::string(b), std::chrono::steady_clock::now());
            return true;
        },
        limits);
    INFO(r.error);
    CHECK(r.how == http_call_result::outcome::done);
    CHECK(r.head.content_type == "text/event-stream");
    std::string all;
    for (const auto& p : pieces) all += p.first;
    CHECK(all == "data: one\n\ndata: two\n\ndata: three\n\n");
    REQUIRE(!pieces.empty());
    CHECK(pieces.front().first.starts_with("data: one"));
    CHECK(pieces.front().second - start < 300ms); // not held until the end (800 ms)
}

TEST_CASE("the call's deadline and cancellation close the connection, and the upstream sees it", "[upstream]") {
    auto endless = [](const upstream_request&, upstream_conn& c) {
        c.chunked_head(200, "text/event-stream");
        while (c.chunk("data: more\n\n") && c.pause(20ms)) {
        }
    };
    test_upstream up(endless);
    http_request_spec req;
    req.target = "/stream";
    {
        cancellation_token cancel;
        http_call_limits limits;
        limits.deadline = std::chrono::steady_clock::now() + 300ms;
        const auto r = http_call(url_of(up), nullptr, req, cancel, [](const http_head&) { return true; },
                                 [](std::string_view) { return true; }, limits);
        CHECK(r.how == http_call_result::outcome::timed_out);
        CHECK(r.connected);
    }
    CHECK(eventually([&] { return up.client_closes() == 1; }, 5s));
    {
        cancellation_token cancel;
        std::thread canceller([&] {
            std::this_thread::sleep_for(200ms);
            cancel.cancel();
        });
        const auto r = http_call(url_of(up), nullptr, req, cancel, [](const http_head&) { return true; },
                                 [](std::string_view) { return true; }, {});
        canceller.join();
        CHECK(r.how == http_call_result::outcome::cancelled);
    }
    CHECK(eventually([&] { return up.client_closes() == 2; }, 5s));
}

TEST_CASE("a reset mid-body is an error after the pieces that came before it", "[upstream]") {
    auto resetting = [](const upstream_request&, upstream_conn& c) {
        c.chunked_head(200, "text/event-stream");
        c.chunk("data: partial\n\n");
        c.pause(200ms);
        c.reset();
    };
    test_upstream up(resetting);
    cancellation_token cancel;
    std::string got;
    http_request_spec req;
    req.target = "/stream";
    const auto r = http_call(url_of(up), nullptr, req, cancel, [](const http_head&) { return true; },
                             [&](std::string_view b) {
                                 got += b;
                                 return true;
                             }, {});
    CHECK(r.how == http_call_result::outcome::failed);
    CHECK(got == "data: partial\n\n");
    CHECK(r.error.find("broke off") != std::string::npos);
}

TEST_CASE("connections are kept alive between calls, and one the upstream closed is replaced", "[upstream]") {
    auto answer = [](const upstream_request&, upstream_conn& c) { c.send(http_answer(200, "text/plain", "ok")); };
    test_upstream up(answer);
    http_request_spec req;
    req.target = "/x";
    auto call_once = [&] {
        cancellation_token cancel;
        std::string body;
        const auto r = http_call(url_of(up), nullptr, req, cancel, [](const http_head&) { return true; },
                                 [&](std::string_view b) {
                                     body += b;
                                     return true;
                                 }, {});
        return r.how == http_call_result::outcome::done && body == "ok";
    };
    SECTION("kept alive: one connection for three calls") {
        up.keep_alive(true);
        CHECK(call_once());
        CHECK(call_once());
        CHECK(call_once());
        CHECK(up.connections() == 1);
        CHECK(up.requests().size() == 3);
    }
    SECTION("closed after each answer: every call still succeeds, on a new connection") {
        CHECK(call_once());
        CHECK(call_once());
        CHECK(call_once());
        CHECK(up.requests().size() == 3);
        CHECK(up.connections() >= 3);
    }
}

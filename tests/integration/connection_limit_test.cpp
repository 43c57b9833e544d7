// serve --max-connections: the broker holds at most that many connections
// open (HTTP keep-alive, SSE, agents together); one more is closed at accept
// without an answer, and a slot is free again once a connection ends.

#include "testkit/broker_process.hpp"
#include "testkit/raw_connection.hpp"
#include "testkit/wait.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace tether::testkit;
using namespace std::chrono_literals;

namespace {

// A keep-alive connection that got its 200 for /healthz (so the broker holds
// it), or nullptr when the broker closed it unanswered.
std::unique_ptr<raw_connection> served_connection(const broker_process& b) {
    auto c = std::make_unique<raw_connection>(b.host(), b.port());
    if (!c->connect(5s)) return nullptr;
    const std::string req = "GET /healthz HTTP/1.1\r\nHost: " + b.host() + "\r\n\r\n";
    if (!c->send(req, 5s)) return nullptr;
    const auto reply = c->read_until("{\"status\":\"ok\"}", 5s);
    if (raw_status(reply) != 200 || c->peer_closed()) return nullptr;
    return c;
}

} // namespace

TEST_CASE("with --max-connections 2 a third connection is closed unanswered until one of the two ends",
          "[http][limits]") {
    broker_process b(build_broker_paths());
    b.start({"--max-connections", "2"});

    // The start-up probe's connection may still be closing: retry, bounded.
    std::vector<std::unique_ptr<raw_connection>> held;
    REQUIRE(eventually([&] {
        if (auto c = served_connection(b)) held.push_back(std::move(c));
        return held.size() == 2;
    }));

    // The kernel completes the handshake; the broker then closes it unread.
    raw_connection third(b.host(), b.port());
    REQUIRE(third.connect(5s));
    third.send("GET /healthz HTTP/1.1\r\nHost: " + b.host() + "\r\n\r\n", 5s);
    const auto reply = third.read_until_close(5s);
    INFO("third connection got: " << reply);
    CHECK(raw_status(reply) == 0);
    CHECK(third.peer_closed());

    held.front()->close();
    held.erase(held.begin());
    std::unique_ptr<raw_connection> again;
    CHECK(eventually([&] { return (again = served_connection(b)) != nullptr; }));
    INFO("broker stderr:\n" << b.stderr_tail());
    CHECK(b.running());
}

TEST_CASE("serve refuses a --max-connections of 0 with status 2", "[http][limits]") {
    broker_process b(build_broker_paths());
    auto r = b.admin({"serve", "--listen", "127.0.0.1:0", "--max-connections", "0"});
    INFO(r.err);
    CHECK(r.status.exited);
    CHECK(r.status.code == 2);
    CHECK(r.err.find("--max-connections") != std::string::npos);
}

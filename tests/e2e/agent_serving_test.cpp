// tether-agent end to end with the real broker: streamed results, uploads and
// output files checked by SHA-256, cancel, refusals. Short mock delays keep
// the suite quick; every wait is bounded.

#include "e2e/agent_process.hpp"
#include "integration/itest_broker.hpp"
#include "testkit/multipart_body.hpp"
#include "tether/shared/crypto.hpp"

#include <random>

using namespace tether::itest;
using tether::e2e::agent_process;

namespace {

std::string output_of(const json_doc& d) {
    if (auto s = d.string("/result/output")) return *s;
    return d.str("/output");
}

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s)
        c = static_cast<char>(rng() & 0xff);
    return s;
}

} // namespace

TEST_CASE("a prompt submitted over HTTP is answered by tether-agent with streamed deltas and an echo", "[e2e]") {
    itest_broker t;
    agent_process agent;
    agent.start(t.broker.ws_url(), {"echo=" + t.echo_token}, {"--delay", "0.2-0.5"});
    const bool registered = agent.wait_registered();
    INFO("agent log:\n" << agent.log());
    REQUIRE(registered);
    auto alice = t.signed_in("alice");
    REQUIRE(eventually([&] { return t.space_connected(alice) == std::optional<bool>(true); }, 5s));

    const std::string id = t.submit(alice, "hello streaming world");
    sse_reader events(alice, "/api/requests/" + id + "/events");
    auto done = events.wait_for("completed", 10s);
    INFO("events: " << events.seen_names() << "\nagent log:\n" << agent.log());
    REQUIRE(done);
    std::string streamed;
    for (const auto& e : events.seen()) {
        if (e.event == "delta") streamed += e.json().str("/text");
    }
    CHECK(streamed == "echo: hello streaming world");
    CHECK(output_of(done->json()) == "echo: hello streaming world");

    auto status = t.request_status(alice, id);
    CHECK(status.str("/status") == "completed");
    CHECK(output_of(status) == "echo: hello streaming world");
    CHECK(agent.logged("request " + id));
}

TEST_CASE("an uploaded file reaches the agent intact and an output file comes back", "[e2e]") {
    broker_setup setup;
    setup.echo.features = "prompt,file";
    itest_broker t(setup);
    agent_process agent;
    agent.start(t.broker.ws_url(), {"echo=" + t.echo_token}, {"--delay", "0"});
    REQUIRE(agent.wait_registered());
    auto alice = t.signed_in("alice");

    // Over 1 MiB, so it crosses several blob chunks each way of the broker.
    const std::string bytes = random_bytes((2U << 20) + 4321, 11);
    multipart_body body;
    body.field("prompt", "check this #file");
    body.file("file", "data.bin", "application/octet-stream", bytes);
    const std::string ctype = body.content_type();
    auto r = alice.post("/api/spaces/echo/requests", body.finish(), ctype);
    INFO(r.describe() << "\nagent log:\n" << agent.log());
    REQUIRE(r.status == 202);
    const std::string id = r.json().str("/request_id");
    REQUIRE(t.wait_status(alice, id, "completed", 15s));

    auto status = t.request_status(alice, id);
    INFO(status.text());
    const std::string prefix = status.has("/result/files_in") ? "/result" : "";
    CHECK(status.str(prefix + "/files_in/0/name") == "data.bin");
    CHECK(status.integer(prefix + "/files_in/0/size") == static_cast<std::int64_t>(bytes.size()));
    CHECK(status.str(prefix + "/files_in/0/sha256") == tether::sha256_hex(bytes));

    // "#file" makes the mock return echo.txt, sent as a blob before the result.
    CHECK(status.text().find("echo.txt") != std::string::npos);
    auto dl = alice.get("/api/requests/" + id + "/files/1");
    INFO(dl.status);
    REQUIRE(dl.status == 200);
    CHECK(dl.body == "echo: check this #file\n");
}

TEST_CASE("a prompt with #fail ends failed with model_error", "[e2e]") {
    itest_broker t;
    agent_process agent;
    agent.start(t.broker.ws_url(), {"echo=" + t.echo_token}, {"--delay", "0"});
    REQUIRE(agent.wait_registered());
    auto alice = t.signed_in("alice");
    const std::string id = t.submit(alice, "please #fail");
    REQUIRE(t.wait_status(alice, id, "failed", 10s));
    CHECK(t.request_status(alice, id).str("/error/code") == "model_error");
}

TEST_CASE("cancel stops the mock's work long before its delay is over", "[e2e]") {
    itest_broker t;
    agent_process agent;
    // A 20 s reply: the cancel must end it, the delay never can within the test's bounds.
    agent.start(t.broker.ws_url(), {"echo=" + t.echo_token}, {"--delay", "20"});
    REQUIRE(agent.wait_registered());
    auto alice = t.signed_in("alice");
    const std::string id = t.submit(alice, "a long answer");
    REQUIRE(agent.wait_logged("request " + id + " space=echo", 5s));
    REQUIRE(t.wait_status(alice, id, "processing", 5s));

    auto del = alice.del("/api/requests/" + id);
    INFO(del.describe());
    REQUIRE(del.status / 100 == 2);
    INFO("agent log:\n" << agent.log());
    // The agent logs when its backend actually stopped; it must be well before 20 s.
    CHECK(agent.wait_logged("request " + id + " cancelled; backend stopped", 5s));
    CHECK(t.request_status(alice, id).str("/status") == "cancelled");
    CHECK(agent.running());
}

TEST_CASE("a second agent for a taken space is refused and keeps retrying while the first serves", "[e2e]") {
    itest_broker t;
    agent_process first;
    first.start(t.broker.ws_url(), {"echo=" + t.echo_token}, {"--delay", "0.2"});
    REQUIRE(first.wait_registered());

    agent_process second;
    second.start(t.broker.ws_url(), {"echo=" + t.echo_token}, {"--delay", "0.2"});
    const bool taken = second.wait_logged("space_taken", 10s);
    INFO("second agent log:\n" << second.log());
    REQUIRE(taken);
    // It retries with backoff instead of giving up: the holder may be a stale socket.
    CHECK(second.wait_logged("reconnecting in", 5s));
    CHECK(second.running());

    auto alice = t.signed_in("alice");
    const std::string id = t.submit(alice, "still served");
    REQUIRE(t.wait_status(alice, id, "completed", 10s));
    CHECK(first.logged("request " + id));
    CHECK_FALSE(second.logged("request " + id));
}

TEST_CASE("a bad token or an unknown space makes the agent exit 3 naming the space", "[e2e]") {
    itest_broker t;
    {
        agent_process agent;
        agent.start(t.broker.ws_url(), {"echo=not-the-token"}, {"--delay", "0"});
        auto st = agent.wait_exit(10s);
        INFO("agent log:\n" << agent.log());
        REQUIRE(st);
        CHECK(st->exited);
        CHECK(st->code == 3);
        CHECK(agent.logged("space echo refused"));
        CHECK(agent.logged("bad_token"));
    }
    {
        agent_process agent;
        agent.start(t.broker.ws_url(), {"nosuchspace=whatever"}, {"--delay", "0"});
        auto st = agent.wait_exit(10s);
        INFO("agent log:\n" << agent.log());
        REQUIRE(st);
        CHECK(st->code == 3);
        CHECK(agent.logged("nosuchspace"));
    }
}

TEST_CASE("tokens may come from the environment instead of the command line", "[e2e]") {
    itest_broker t;
    agent_process agent;
    agent.start(t.broker.ws_url(), {}, {"--delay", "0"}, {"TETHER_SPACE_echo=" + t.echo_token});
    const bool registered = agent.wait_registered();
    INFO("agent log:\n" << agent.log());
    REQUIRE(registered);
    auto alice = t.signed_in("alice");
    const std::string id = t.submit(alice, "from env");
    REQUIRE(t.wait_status(alice, id, "completed", 10s));
}

// tether-agent surviving what goes wrong in production: the agent killed
// mid-request and restarted, the broker restarted under running agents, and
// a clean drain on SIGTERM. Real broker, real agent processes.

#include "e2e/agent_process.hpp"
#include "integration/itest_broker.hpp"

#include <csignal>

using namespace tether::itest;
using tether::e2e::agent_process;

TEST_CASE("an agent killed mid-request is replaced and the same request completes", "[e2e]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    std::string id;
    {
        agent_process doomed;
        doomed.start(t.broker.ws_url(), {"echo=" + t.echo_token}, {"--delay", "20"});
        REQUIRE(doomed.wait_registered());
        id = t.submit(alice, "survive this");
        REQUIRE(doomed.wait_logged("request " + id + " space=echo", 5s));
        REQUIRE(t.wait_status(alice, id, "processing", 5s));
        doomed.kill9();
    }
    // The broker notices the dropped socket and requeues the request.
    REQUIRE(eventually([&] { return t.request_status(alice, id).str("/status") == "queued"; }, 10s, 25ms));

    agent_process replacement;
    replacement.start(t.broker.ws_url(), {"echo=" + t.echo_token}, {"--delay", "0.2"});
    const bool done = t.wait_status(alice, id, "completed", 15s);
    INFO("replacement log:\n" << replacement.log());
    REQUIRE(done);
    CHECK(replacement.logged("request " + id));
    auto status = t.request_status(alice, id);
    CHECK((status.str("/result/output") == "echo: survive this" || status.str("/output") == "echo: survive this"));
}

TEST_CASE("agents reconnect by themselves after a broker restart and queued requests complete", "[e2e]") {
    itest_broker t;
    agent_process agent;
    agent.start(t.broker.ws_url(), {"echo=" + t.echo_token}, {"--delay", "0.3"});
    REQUIRE(agent.wait_registered());
    std::vector<std::string> ids;
    {
        auto alice = t.signed_in("alice");
        for (int i = 0; i < 4; ++i)
            ids.push_back(t.submit(alice, "before restart " + std::to_string(i)));
    }
    // Killed, not stopped: requests are left queued or dispatched in the store.
    t.broker.kill9();
    REQUIRE(agent.wait_logged("reconnecting in", 5s));
    t.broker.restart();

    const bool back = eventually([&] { return agent.count("registered with") >= 2; }, 40s, 50ms);
    INFO("agent log:\n" << agent.log());
    REQUIRE(back);
    CHECK(agent.running());
    auto alice = t.signed_in("alice");
    ids.push_back(t.submit(alice, "after restart"));
    for (const auto& id : ids) {
        INFO("request " << id);
        CHECK(t.wait_status(alice, id, "completed", 20s));
    }
}

TEST_CASE("SIGTERM makes the agent drain: the request in flight completes and it exits 0", "[e2e]") {
    itest_broker t;
    agent_process agent;
    agent.start(t.broker.ws_url(), {"echo=" + t.echo_token}, {"--delay", "1", "--grace", "10"});
    REQUIRE(agent.wait_registered());
    auto alice = t.signed_in("alice");
    const std::string id = t.submit(alice, "finish me");
    REQUIRE(agent.wait_logged("request " + id + " space=echo", 5s));

    agent.signal(SIGTERM);
    auto st = agent.wait_exit(15s);
    INFO("agent log:\n" << agent.log());
    REQUIRE(st);
    CHECK(st->exited);
    CHECK(st->code == 0);
    CHECK(agent.logged("draining"));
    CHECK(t.request_status(alice, id).str("/status") == "completed");
}

TEST_CASE("SIGTERM with nothing in flight exits 0 at once, even while disconnected", "[e2e]") {
    itest_broker t;
    agent_process agent;
    agent.start(t.broker.ws_url(), {"echo=" + t.echo_token}, {"--delay", "0"});
    REQUIRE(agent.wait_registered());
    agent.signal(SIGTERM);
    auto st = agent.wait_exit(10s);
    REQUIRE(st);
    CHECK(st->code == 0);

    agent_process orphan; // a broker that is not there
    orphan.start("ws://127.0.0.1:" + std::to_string(free_port()) + "/agent", {"echo=x"}, {"--delay", "0"});
    REQUIRE(orphan.wait_logged("reconnecting in", 10s));
    orphan.signal(SIGTERM);
    auto st2 = orphan.wait_exit(10s);
    REQUIRE(st2);
    CHECK(st2->code == 0);
}

TEST_CASE("a stopped agent (SIGSTOP) is found by the heartbeat, its request requeued, and it recovers on SIGCONT",
          "[e2e]") {
    broker_setup setup;
    setup.serve_args = {"--heartbeat", "1"}; // dead after 2 silent intervals
    itest_broker t(setup);
    agent_process agent;
    agent.start(t.broker.ws_url(), {"echo=" + t.echo_token}, {"--delay", "3"});
    REQUIRE(agent.wait_registered());
    auto alice = t.signed_in("alice");
    const std::string id = t.submit(alice, "frozen");
    REQUIRE(t.wait_status(alice, id, "processing", 5s));

    agent.signal(SIGSTOP);
    const auto stopped_at = std::chrono::steady_clock::now();
    // The process is alive and its socket open: only the missed pongs tell.
    const bool requeued = t.wait_status(alice, id, "queued", 15s);
    const auto detected_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - stopped_at).count();
    INFO("detected after " << detected_ms << " ms\nbroker stderr:\n" << t.broker.stderr_tail());
    REQUIRE(requeued);
    CHECK(t.space_connected(alice) == std::optional<bool>(false));

    agent.signal(SIGCONT);
    // The agent finds its connection gone, reconnects by itself, and the
    // requeued request completes on the second attempt.
    const bool done = t.wait_status(alice, id, "completed", 30s);
    INFO("agent log:\n" << agent.log());
    REQUIRE(done);
    CHECK(agent.count("registered with") >= 2);
}

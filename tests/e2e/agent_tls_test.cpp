// wss:// end to end: the broker serves TLS with a self-signed certificate for
// 127.0.0.1; the agent trusts it only through --ca-file (or, explicitly,
// --insecure) and refuses it otherwise, retrying instead of exiting.

#include "e2e/agent_process.hpp"
#include "e2e/tls_broker.hpp"
#include "testkit/broker_process.hpp"
#include "testkit/child_process.hpp"
#include "testkit/temp_dir.hpp"
#include "testkit/wait.hpp"

#include <catch2/catch.hpp>

#include <csignal>

using namespace tether::testkit;
using tether::e2e::agent_process;
using tether::e2e::tls_broker;


TEST_CASE("over wss the agent registers when the broker's certificate is trusted through --ca-file", "[e2e][tls]") {
    tls_broker b;
    agent_process agent;
    agent.start(b.url(), {"echo=" + b.token}, {"--delay", "0", "--ca-file", b.cert});
    const bool ok = agent.wait_registered(15s);
    INFO("agent log:\n" << agent.log());
    CHECK(ok);
}

TEST_CASE("over wss an untrusted certificate is refused and the agent keeps retrying", "[e2e][tls]") {
    tls_broker b;
    agent_process agent;
    agent.start(b.url(), {"echo=" + b.token}, {"--delay", "0"});
    const bool retried = agent.wait_logged("reconnecting in", 15s);
    INFO("agent log:\n" << agent.log());
    CHECK(retried);
    CHECK_FALSE(agent.logged("registered with"));
    CHECK(agent.running());
}

TEST_CASE("over wss --insecure accepts a self-signed certificate and says so", "[e2e][tls]") {
    tls_broker b;
    agent_process agent;
    agent.start(b.url(), {"echo=" + b.token}, {"--delay", "0", "--insecure"});
    const bool ok = agent.wait_registered(15s);
    INFO("agent log:\n" << agent.log());
    CHECK(ok);
    CHECK(agent.logged("NOT verified"));
}

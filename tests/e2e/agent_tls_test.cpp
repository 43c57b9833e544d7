// wss:// end to end: the broker serves TLS with a self-signed certificate for
// 127.0.0.1; the agent trusts it only through --ca-file (or, explicitly,
// --insecure) and refuses it otherwise, retrying instead of exiting.

#include "e2e/agent_process.hpp"
#include "testkit/broker_process.hpp"
#include "testkit/child_process.hpp"
#include "testkit/temp_dir.hpp"
#include "testkit/wait.hpp"

#include <catch2/catch.hpp>

#include <csignal>

using namespace tether::testkit;
using tether::e2e::agent_process;

namespace {

// tether-broker serve over TLS, started by hand because broker_process waits
// for plain-HTTP /healthz. Waits (bounded) for its "listening on" line.
struct tls_broker {
    broker_process admin{build_broker_paths()};
    temp_dir dir{"tether-e2e-tls-"};
    child_process child;
    std::uint16_t port = free_port();
    std::string token;
    std::string cert;

    tls_broker() {
        token = admin.add_space("echo");
        cert = dir.path() + "/cert.pem";
        const std::string key = dir.path() + "/key.pem";
        auto gen = run_to_completion({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                                      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                                      key, "-out", cert},
                                     {}, dir.path(), 30s);
        INFO(gen.err);
        REQUIRE(gen.status.exited);
        REQUIRE(gen.status.code == 0);
        const std::string out = dir.path() + "/broker.out";
        child.start({TETHER_BROKER_BIN, "serve", "--listen", "127.0.0.1:" + std::to_string(port), "--data",
                     admin.data_dir(), "--web", TETHER_SOURCE_DIR "/web", "--tls-cert", cert, "--tls-key", key},
                    {}, out, dir.path() + "/broker.err");
        const bool up = eventually([&] { return read_file(out).find("listening on") != std::string::npos; }, 15s);
        INFO(read_file(dir.path() + "/broker.err"));
        REQUIRE(up);
    }
    std::string url() const { return "wss://127.0.0.1:" + std::to_string(port) + "/agent"; }
};

} // namespace

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

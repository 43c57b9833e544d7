#pragma once
// tether-broker serve over TLS with a self-signed certificate for 127.0.0.1
// (made with openssl), started by hand because broker_process waits for
// plain-HTTP /healthz. For the wss:// tests and the https:// upstream tests.

#include "testkit/broker_process.hpp"
#include "testkit/child_process.hpp"
#include "testkit/temp_dir.hpp"
#include "testkit/wait.hpp"

#include <catch2/catch.hpp>

namespace tether::e2e {

using namespace tether::testkit;
using namespace std::chrono_literals;

// Waits (bounded) for its "listening on" line.
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


} // namespace tether::e2e

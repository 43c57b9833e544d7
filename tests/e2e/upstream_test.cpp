// --upstream SPACE=openai+http://…: an agent that serves a space from an
// OpenAI-compatible server on its box. The upstream here is a real one: a
// second Tether broker with its own mock agent (agent -> upstream broker's
// /v1 -> its agent), and a closed port for an upstream that is down.
#include "e2e/tls_broker.hpp"
#include "e2e/upstream_support.hpp"

using namespace tether::itest;
using tether::e2e::agent_process;
using tether::e2e::relay;
using tether::e2e::relay_options;

namespace {

// The upstream: a broker whose "echo" space is served by a mock agent, and an
// API key for it.
struct upstream_server {
    itest_broker t;
    agent_process agent;
    std::string key;

    explicit upstream_server(const std::string& delay = "0") {
        key = t.broker.add_api_key("alice");
        agent.start(t.broker.ws_url(), {"echo=" + t.echo_token}, {"--backend", "mock", "--delay", delay});
        const bool registered = agent.wait_registered(30s);
        INFO("upstream agent log:\n" << agent.log() << "\nbroker:\n" << t.broker.stderr_tail());
        REQUIRE(registered);
    }
    std::string url(const std::string& model = "echo") const {
        return "openai+http://127.0.0.1:" + std::to_string(t.broker.port()) + "/v1#model=" + model + "&key_env=UPSTREAM_KEY";
    }
};

relay_options with_key(const std::string& key) {
    relay_options o;
    o.agent_env = {"UPSTREAM_KEY=" + key};
    return o;
}

} // namespace

TEST_CASE("a space served from an OpenAI-compatible upstream answers chat and text completions, streamed and not",
          "[e2e][upstream]") {
    upstream_server up;
    relay r(up.url(), with_key(up.key));

    auto chat = r.client.post_json("/v1/chat/completions",
                                   R"({"model":"relay","messages":[{"role":"user","content":"Hello through two brokers"}]})");
    INFO(chat.describe() << "\nagent log:\n" << r.agent.log());
    REQUIRE(chat.status == 200);
    CHECK(chat.json().str("/choices/0/message/content") == "echo: Hello through two brokers");
    CHECK(chat.json().str("/choices/0/finish_reason") == "stop");

    auto text = r.client.post_json("/v1/completions", R"({"model":"relay","prompt":"Once","max_tokens":5})");
    INFO(text.describe());
    REQUIRE(text.status == 200);
    CHECK(text.json().str("/choices/0/text") == "echo: Once");

    sse_reader sse(r.client, "/v1/chat/completions", {},
                   R"({"model":"relay","stream":true,"messages":[{"role":"user","content":"one two three"}]})");
    std::string streamed;
    for (;;) {
        auto e = sse.next(20s);
        INFO("raw:\n" << sse.raw_body());
        REQUIRE(e);
        if (e->data == "[DONE]") break;
        streamed += e->json().str("/choices/0/delta/content");
    }
    CHECK(streamed == "echo: one two three");
    // The upstream saw ordinary requests from alice's key.
    auto history = up.t.signed_in("alice").get("/api/requests");
    CHECK(history.body.find("one two three") != std::string::npos);
}

TEST_CASE("an upstream's error and an upstream that is down fail the request with the reason", "[e2e][upstream]") {
    upstream_server up;
    SECTION("the upstream refuses") {
        relay r(up.url("no-such-model"), with_key(up.key));
        auto res = r.client.post_json("/v1/chat/completions", R"({"model":"relay","messages":[{"role":"user","content":"x"}]})");
        INFO(res.describe());
        CHECK(res.status == 502);
        CHECK(res.json().str("/error/code") == "upstream_error");
        CHECK(res.body.find("404") != std::string::npos);
        CHECK(res.body.find("no-such-model") != std::string::npos);
    }
    SECTION("a wrong key") {
        relay r(up.url(), with_key("tk_wrong"));
        auto res = r.client.post_json("/v1/completions", R"({"model":"relay","prompt":"x"})");
        INFO(res.describe());
        CHECK(res.status == 502);
        CHECK(res.body.find("401") != std::string::npos);
    }
    SECTION("nothing listens") {
        const std::string closed = "openai+http://127.0.0.1:" + std::to_string(tether::testkit::free_port()) + "/v1";
        relay r(closed, with_key(up.key));
        const auto start = std::chrono::steady_clock::now();
        auto res = r.client.post_json("/v1/completions", R"({"model":"relay","prompt":"x"})");
        INFO(res.describe());
        CHECK(res.status == 502);
        CHECK(res.json().str("/error/code") == "upstream_unavailable");
        CHECK(std::chrono::steady_clock::now() - start < 10s); // fails fast, not at the deadline
    }
}

TEST_CASE("cancelling a request closes the upstream connection, which cancels it upstream", "[e2e][upstream]") {
    upstream_server up("10");
    relay r(up.url(), with_key(up.key));
    auto alice = r.t.signed_in("alice");
    auto sub = alice.post_json("/api/spaces/relay/requests", R"({"prompt":"slow one"})");
    REQUIRE(sub.status == 202);
    const std::string id = sub.json().str("/request_id");
    auto up_alice = up.t.signed_in("alice");
    // Wait until the upstream has the request running.
    REQUIRE(tether::testkit::eventually([&] { return up_alice.get("/api/requests").body.find("processing") != std::string::npos; }, 15s));
    auto del = alice.del("/api/requests/" + id);
    INFO(del.describe());
    REQUIRE((del.status == 200 || del.status == 202 || del.status == 204));
    CHECK(tether::testkit::eventually([&] { return up_alice.get("/api/requests").body.find("cancelled") != std::string::npos; }, 10s));
}

TEST_CASE("without #model= the agent asks for the model the upstream lists, and says what it found", "[e2e][upstream]") {
    upstream_server up;
    const std::string url = "openai+http://127.0.0.1:" + std::to_string(up.t.broker.port()) + "/v1#key_env=UPSTREAM_KEY";
    relay r(url, with_key(up.key));
    CHECK(r.agent.logged("lists 1 model(s) [echo]; asking for 'echo'"));
    auto res = r.chat("found it");
    INFO(res.describe() << "\nagent log:\n" << r.agent.log());
    REQUIRE(res.status == 200);
    CHECK(res.json().str("/choices/0/message/content") == "echo: found it");
}

TEST_CASE("an https upstream is verified: trusted through --ca-file it serves, else it is unavailable",
          "[e2e][upstream][tls]") {
    tether::e2e::tls_broker up;
    up.admin.add_user("alice", alice_password);
    const std::string key = up.admin.add_api_key("alice");
    agent_process upstream_agent;
    upstream_agent.start(up.url(), {"echo=" + up.token}, {"--delay", "0", "--ca-file", up.cert});
    REQUIRE(upstream_agent.wait_registered(30s));
    const std::string url = "openai+https://127.0.0.1:" + std::to_string(up.port) + "/v1#model=echo&key_env=UPSTREAM_KEY";
    SECTION("trusted") {
        auto o = with_key(key);
        o.agent_args = {"--ca-file", up.cert};
        relay r(url, o);
        auto res = r.chat("over TLS");
        INFO(res.describe() << "\nagent log:\n" << r.agent.log());
        REQUIRE(res.status == 200);
        CHECK(res.json().str("/choices/0/message/content") == "echo: over TLS");
    }
    SECTION("not trusted") {
        relay r(url, with_key(key));
        auto res = r.chat("over TLS");
        INFO(res.describe() << "\nagent log:\n" << r.agent.log());
        CHECK(res.status == 502);
        CHECK(res.json().str("/error/code") == "upstream_unavailable");
        CHECK(res.body.find("certificate") != std::string::npos);
    }
}

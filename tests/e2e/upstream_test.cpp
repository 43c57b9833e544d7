// --upstream SPACE=openai+http://…: an agent that serves a space from an
// OpenAI-compatible server on its box. The upstream here is a real one: a
// second Tether broker with its own mock agent (agent -> upstream broker's
// /v1 -> its agent), and a closed port for an upstream that is down.
#include "e2e/agent_process.hpp"
#include "integration/itest_broker.hpp"

using namespace tether::itest;
using tether::e2e::agent_process;

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

// The broker users talk to, its "relay" space served from `url` by our agent.
struct relay {
    itest_broker t;
    agent_process agent;
    http_client client;

    static broker_setup spaces() {
        broker_setup s;
        s.with_bob = false;
        s.more_spaces = {{"relay", {}}};
        return s;
    }
    relay(const std::string& url, const std::string& key) : t(spaces()), client(t.broker.client()) {
        client.set_bearer(t.broker.add_api_key("alice"));
        client.set_timeout(30s);
        agent.start(t.broker.ws_url(), {"relay=" + t.tokens.at("relay")}, {"--backend", "mock", "--upstream", "relay=" + url},
                    {"UPSTREAM_KEY=" + key});
        const bool registered = agent.wait_registered(30s);
        INFO("relay agent log:\n" << agent.log() << "\nbroker:\n" << t.broker.stderr_tail());
        REQUIRE(registered);
    }
};

} // namespace

TEST_CASE("a space served from an OpenAI-compatible upstream answers chat and text completions, streamed and not",
          "[e2e][upstream]") {
    upstream_server up;
    relay r(up.url(), up.key);

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
        relay r(up.url("no-such-model"), up.key);
        auto res = r.client.post_json("/v1/chat/completions", R"({"model":"relay","messages":[{"role":"user","content":"x"}]})");
        INFO(res.describe());
        CHECK(res.status == 502);
        CHECK(res.json().str("/error/code") == "upstream_error");
        CHECK(res.body.find("404") != std::string::npos);
        CHECK(res.body.find("no-such-model") != std::string::npos);
    }
    SECTION("a wrong key") {
        relay r(up.url(), "tk_wrong");
        auto res = r.client.post_json("/v1/completions", R"({"model":"relay","prompt":"x"})");
        INFO(res.describe());
        CHECK(res.status == 502);
        CHECK(res.body.find("401") != std::string::npos);
    }
    SECTION("nothing listens") {
        const auto port = up.t.broker.port();
        const std::string closed = "openai+http://127.0.0.1:" + std::to_string(port == 65535 ? 1 : port + 1) + "/v1";
        relay r(closed, up.key);
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
    relay r(up.url(), up.key);
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

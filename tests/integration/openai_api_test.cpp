// The OpenAI-compatible API, rate limits and /metrics against a real broker,
// with a scripted agent so the test sees exactly what reaches the agent.
#include "itest_broker.hpp"

#include <future>
#include <map>
#include <regex>
#include <sstream>

using namespace tether::itest;

namespace {

// Parses Prometheus text format strictly: every line is a comment (# HELP /
// # TYPE name …) or `name{label="value",…} number`. Sample key -> value.
std::map<std::string, double> parse_prometheus(const std::string& text) {
    static const std::regex sample(
        R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|\+Inf|NaN)$)");
    static const std::regex comment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$)");
    std::map<std::string, double> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        INFO("line: " << line);
        if (line.starts_with("#")) {
            CHECK(std::regex_match(line, comment));
            continue;
        }
        REQUIRE(std::regex_match(line, sample));
        auto space = line.rfind(' ');
        CHECK(out.count(line.substr(0, space)) == 0); // each series once
        out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return out;
}

std::string chat_body(const std::string& model, const std::string& extra = "") {
    return R"({"model":")" + model + R"(","messages":[{"role":"system","content":"Be brief."},)" +
           R"({"role":"user","content":"Hi"}])" + extra + "}";
}

} // namespace

TEST_CASE("a chat completion reaches the agent with messages, prompt and params and comes back in OpenAI shape",
          "[openai]") {
    itest_broker b;
    auto key = b.broker.add_api_key("alice");
    auto agent = b.echo_agent();
    auto client = b.broker.client();
    client.set_bearer(key);
    client.set_timeout(15s);
    auto answer = std::async(std::launch::async, [&] {
        return client.post_json("/v1/chat/completions", chat_body("echo", R"(,"max_tokens":5,"stop":"!")"));
    });
    auto req = agent->expect_request();
    INFO(agent->last_error() << "\nbroker stderr:\n" << b.broker.stderr_tail());
    REQUIRE(req);
    CHECK(req->frame.username == "alice");
    CHECK(req->frame.prompt == "System: Be brief.\n\nUser: Hi\n\nAssistant:");
    CHECK(req->frame.params_json == R"({"max_tokens":5,"stop":["!"]})");
    CHECK(req->frame.messages_json ==
          R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}])");
    REQUIRE(agent->send_delta(req->id(), 1, "Hello"));
    REQUIRE(agent->send_delta(req->id(), 2, " there! ignored"));
    REQUIRE(agent->send_completed(req->id(), "Hello there! ignored"));
    auto res = answer.get();
    INFO(res.describe());
    REQUIRE(res.status == 200);
    auto doc = res.json();
    CHECK(doc.str("/object") == "chat.completion");
    CHECK(doc.str("/id") == "chatcmpl-" + req->id());
    CHECK(doc.str("/choices/0/message/content") == "Hello there");
    CHECK(doc.str("/choices/0/finish_reason") == "stop");
}

TEST_CASE("past the rate limit submissions get 429 with Retry-After, and not before", "[openai][rate_limit]") {
    broker_setup setup;
    setup.serve_args = {"--rate-limit", "echo:user=0.001/2"};
    itest_broker b(setup);
    auto alice = b.signed_in("alice");
    b.submit(alice, "one");
    b.submit(alice, "two");
    auto refused = alice.post_json("/api/spaces/echo/requests", R"({"prompt":"three"})");
    INFO(refused.describe());
    CHECK(refused.status == 429);
    CHECK(refused.json().str("/error/code") == "rate_limited");
    auto retry = std::stoi(refused.header("Retry-After"));
    CHECK(retry >= 1);
    CHECK(retry <= 1000);
    // The same user through the OpenAI API shares the bucket.
    auto key = b.broker.add_api_key("alice");
    auto api = b.broker.client();
    api.set_bearer(key);
    auto openai = api.post_json("/v1/chat/completions", chat_body("echo"));
    CHECK(openai.status == 429);
    CHECK(openai.json().str("/error/code") == "rate_limit_exceeded");
    CHECK_FALSE(openai.header("Retry-After").empty());
    // Another user is not affected.
    auto bob = b.signed_in("bob");
    b.submit(bob, "mine");
}

TEST_CASE("/metrics is valid Prometheus text and counts requests, latency, agents and traffic", "[metrics]") {
    itest_broker b;
    auto agent = b.echo_agent();
    auto alice = b.signed_in("alice");
    auto id = b.submit(alice, "hello");
    auto req = agent->expect_request();
    REQUIRE(req);
    REQUIRE(agent->send_completed(req->id(), "done"));
    REQUIRE(b.wait_status(alice, id, "completed"));
    b.submit(alice, "waiting"); // held by the agent, never answered

    auto res = b.broker.client().get("/metrics");
    REQUIRE(res.status == 200);
    CHECK(res.header("Content-Type").starts_with("text/plain; version=0.0.4"));
    auto m = parse_prometheus(res.body);
    CHECK(m.at(R"(tether_requests_total{space="echo",outcome="completed"})") == 1);
    CHECK(m.at(R"(tether_queue_length{space="echo"})") == 0);
    CHECK(m.at("tether_agents_connected") == 1);
    CHECK(m.at(R"(tether_agent_frames_total{direction="in"})") >= 2);
    CHECK(m.at(R"(tether_agent_bytes_total{direction="out"})") > 0);
    CHECK(m.at(R"(tether_queue_wait_seconds_count{space="echo"})") == 2);
    CHECK(m.at(R"(tether_queue_wait_seconds_bucket{space="echo",le="+Inf"})") == 2);
    CHECK(m.at(R"(tether_request_duration_seconds_count{space="echo"})") == 1);
    CHECK(m.at("tether_store_commit_seconds_count") >= 3);
    CHECK(b.broker.client().get("/healthz").status == 200);
    CHECK(b.broker.client().get("/readyz").status == 200);
}

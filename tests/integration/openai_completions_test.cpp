// /v1/completions, log-probabilities, stream_options.include_usage and the
// model details an agent announces, through the real broker with a scripted
// agent: what reaches the agent, and the answer in OpenAI's layout.
#include "itest_broker.hpp"

#include <future>

using namespace tether::itest;

namespace {

http_client keyed(itest_broker& b) {
    auto key = b.broker.add_api_key("alice");
    auto c = b.broker.client();
    c.set_bearer(key);
    c.set_timeout(15s);
    return c;
}

// The agent's result for "Hi!" as the torch backend writes it.
const std::string result_json =
    R"({"output":"Hi!","finish_reason":"length","usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5},)"
    R"("logprobs":[{"token":"Hi","logprob":-0.5,"bytes":[72,105],"top_logprobs":[{"token":"Hi","logprob":-0.5,)"
    R"("bytes":[72,105]},{"token":"Ho","logprob":-1.25,"bytes":[72,111]}]},)"
    R"({"token":"!","logprob":-0.125,"bytes":[33],"top_logprobs":[{"token":"!","logprob":-0.125,"bytes":[33]}]}]})";

// Reads data: frames up to [DONE]; each one parsed.
std::vector<json_doc> read_stream(sse_reader& sse) {
    std::vector<json_doc> chunks;
    for (;;) {
        auto e = sse.next(10s);
        INFO("raw:\n" << sse.raw_body());
        REQUIRE(e);
        if (e->data == "[DONE]") return chunks;
        chunks.push_back(e->json());
        REQUIRE(chunks.back().ok());
    }
}

} // namespace

TEST_CASE("a text completion sends the prompt as written and answers with logprobs in the legacy layout",
          "[openai][completions]") {
    itest_broker b;
    auto client = keyed(b);
    auto agent = b.echo_agent();
    auto answer = std::async(std::launch::async, [&] {
        return client.post_json("/v1/completions",
                                R"({"model":"echo","prompt":"Say hi","max_tokens":2,"logprobs":1,"seed":9})");
    });
    auto req = agent->expect_request();
    INFO(agent->last_error() << "\nbroker stderr:\n" << b.broker.stderr_tail());
    REQUIRE(req);
    CHECK(req->frame.prompt == "Say hi");
    CHECK_FALSE(req->frame.messages_json.has_value());
    CHECK(req->frame.params_json == R"({"max_tokens":2,"seed":9,"logprobs":1})");
    REQUIRE(agent->send_delta(req->id(), 1, "Hi!"));
    REQUIRE(agent->send_completed_json(req->id(), "Hi!", result_json));
    auto res = answer.get();
    INFO(res.describe());
    REQUIRE(res.status == 200);
    auto doc = res.json();
    CHECK(doc.str("/object") == "text_completion");
    CHECK(doc.str("/id") == "cmpl-" + req->id());
    CHECK(doc.str("/model") == "echo");
    CHECK(doc.str("/choices/0/text") == "Hi!");
    CHECK(doc.str("/choices/0/finish_reason") == "length");
    CHECK(doc.str("/choices/0/logprobs/tokens/1") == "!");
    CHECK(doc.number("/choices/0/logprobs/token_logprobs/0") == -0.5);
    CHECK(doc.number("/choices/0/logprobs/top_logprobs/0/Ho") == -1.25);
    CHECK(doc.integer("/choices/0/logprobs/text_offset/1") == 2);
    CHECK(doc.integer("/usage/total_tokens") == 5);
}

TEST_CASE("a completions request the broker cannot serve is refused before it is queued", "[openai][completions]") {
    itest_broker b;
    auto client = keyed(b);
    for (const auto& [body, param] : std::vector<std::pair<std::string, std::string>>{
             {R"({"model":"echo"})", "prompt"},
             {R"({"model":"echo","prompt":["a","b"]})", "prompt"},
             {R"({"model":"echo","prompt":"a","echo":true})", "echo"},
             {R"({"model":"echo","prompt":"a","top_k":-5})", "top_k"}}) {
        auto r = client.post_json("/v1/completions", body);
        INFO(body << " -> " << r.describe());
        CHECK(r.status == 400);
        CHECK(r.json().str("/error/param") == param);
    }
    auto missing = client.post_json("/v1/completions", R"({"model":"nope","prompt":"a"})");
    CHECK(missing.status == 404);
    CHECK(missing.json().str("/error/code") == "model_not_found");
}

TEST_CASE("streams end with the finish reason, then a usage chunk when asked, then [DONE]", "[openai][completions]") {
    itest_broker b;
    auto client = keyed(b);
    auto agent = b.echo_agent();
    SECTION("completions") {
        sse_reader sse(client, "/v1/completions", {},
                       R"({"model":"echo","prompt":"Say hi","stream":true,"stream_options":{"include_usage":true}})");
        auto req = agent->expect_request(10s);
        REQUIRE(req);
        REQUIRE(agent->send_delta(req->id(), 1, "Hi"));
        REQUIRE(agent->send_delta(req->id(), 2, "!"));
        REQUIRE(agent->send_completed_json(req->id(), "Hi!", result_json));
        auto chunks = read_stream(sse);
        REQUIRE(chunks.size() >= 3);
        std::string text;
        for (std::size_t i = 0; i + 1 < chunks.size(); ++i) {
            CHECK(chunks[i].str("/object") == "text_completion");
            text += chunks[i].str("/choices/0/text");
        }
        CHECK(text == "Hi!");
        const auto& last_choice = chunks[chunks.size() - 2];
        CHECK(last_choice.str("/choices/0/finish_reason") == "length");
        const auto& usage = chunks.back();
        CHECK(usage.array_size("/choices") == std::optional<std::size_t>(0));
        CHECK(usage.integer("/usage/completion_tokens") == 2);
    }
    SECTION("chat, with logprobs on the last chunk") {
        sse_reader sse(client, "/v1/chat/completions", {},
                       R"({"model":"echo","stream":true,"logprobs":true,"top_logprobs":2,)"
                       R"("messages":[{"role":"user","content":"Say hi"}]})");
        auto req = agent->expect_request(10s);
        REQUIRE(req);
        CHECK(req->frame.params_json == R"({"logprobs":true,"top_logprobs":2})");
        REQUIRE(agent->send_delta(req->id(), 1, "Hi!"));
        REQUIRE(agent->send_completed_json(req->id(), "Hi!", result_json));
        auto chunks = read_stream(sse);
        REQUIRE(chunks.size() >= 2);
        const auto& last = chunks.back();
        CHECK(last.str("/object") == "chat.completion.chunk");
        CHECK(last.str("/choices/0/finish_reason") == "length");
        CHECK(last.str("/choices/0/logprobs/content/0/token") == "Hi");
        CHECK(last.number("/choices/0/logprobs/content/0/top_logprobs/1/logprob") == -1.25);
        CHECK_FALSE(last.has("/usage")); // not asked for
    }
}

TEST_CASE("the model an agent announces shows in /v1/models and the space list, and goes with the agent",
          "[openai][completions]") {
    itest_broker b;
    auto client = keyed(b);
    auto before = client.get("/v1/models/echo");
    REQUIRE(before.status == 200);
    CHECK_FALSE(before.json().has("/max_model_len"));

    auto agent = b.broker.agent();
    REQUIRE(agent->connect());
    auto reg = agent_client::space("echo", b.echo_token);
    reg.model = tether::protocol::model_info{"tiny-llama", 2048, true, ""};
    auto ok = agent->register_spaces({reg});
    INFO(agent->last_error());
    REQUIRE(ok);
    REQUIRE(ok->spaces.at(0).ok);

    auto m = client.get("/v1/models/echo");
    INFO(m.describe());
    REQUIRE(m.status == 200);
    CHECK(m.json().str("/root") == "tiny-llama");
    CHECK(m.json().integer("/max_model_len") == 2048);
    auto alice = b.signed_in("alice");
    auto spaces = alice.get("/api/spaces");
    INFO(spaces.describe());
    REQUIRE(spaces.status == 200);
    CHECK(spaces.body.find(R"("model":{"name":"tiny-llama","context_length":2048,"chat":true})") != std::string::npos);

    agent->close();
    REQUIRE(tether::testkit::eventually([&] { return !client.get("/v1/models/echo").json().has("/root"); }, 10s));
}

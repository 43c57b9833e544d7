// --upstream's URL and the request body an OpenAI-compatible upstream gets.
#include "backends/upstream/openai_upstream.hpp"
#include "backends/upstream/upstream_url.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

using namespace tether::agent;

TEST_CASE("upstream URLs name the kind, the server, the path and the model", "[upstream]") {
    std::string error;
    auto u = parse_upstream_url("openai+http://127.0.0.1:8000/v1/#model=llama&key_env=VLLM_KEY", error);
    REQUIRE(u);
    CHECK(u->kind == "openai");
    CHECK(u->host == "127.0.0.1");
    CHECK(u->port == 8000);
    CHECK(u->base == "/v1");
    CHECK(u->model == "llama");
    CHECK(u->key_env == "VLLM_KEY");
    auto plain = parse_upstream_url("openai+http://localhost", error);
    REQUIRE(plain);
    CHECK(plain->port == 80);
    CHECK(plain->base.empty());
    CHECK(plain->model.empty());
    for (const char* bad : {"http://x:1/v1", "grpc+http://x/v1", "openai+https://x/v1", "openai+http://x:0/v1",
                            "openai+http://x:99999/v1", "openai+http://:80/v1", "openai+http://x/v1#colour=red",
                            "openai+http://x/v1#model=", "openai+http://u@x/v1"}) {
        INFO(bad);
        error.clear();
        CHECK_FALSE(parse_upstream_url(bad, error));
        CHECK_FALSE(error.empty());
    }
}

TEST_CASE("the upstream gets the messages or the prompt, every parameter, and a stream with usage", "[upstream]") {
    job j;
    j.messages_json = R"([{"role":"user","content":"Hi"}])";
    j.params_json = R"({"temperature":0.5,"max_tokens":7,"stop":["\n"],"seed":3,"stream":false,"model":"other"})";
    simdjson::dom::parser p;
    auto body = p.parse(openai_upstream_body(j, "llama"));
    CHECK(std::string_view(body["model"]) == "llama");
    CHECK(std::string_view(body["messages"].at(0)["content"]) == "Hi");
    CHECK(double(body["temperature"]) == 0.5);
    CHECK(std::int64_t(body["max_tokens"]) == 7);
    CHECK(std::string_view(body["stop"].at(0)) == "\n");
    CHECK(std::int64_t(body["seed"]) == 3);
    CHECK(bool(body["stream"]));
    CHECK(bool(body["stream_options"]["include_usage"]));
    CHECK(body["prompt"].error() == simdjson::NO_SUCH_FIELD);

    job t;
    t.prompt = "Once";
    t.params_json = "{}";
    auto text = p.parse(openai_upstream_body(t, "m"));
    CHECK(std::string_view(text["prompt"]) == "Once");
    CHECK(text["messages"].error() == simdjson::NO_SUCH_FIELD);
}

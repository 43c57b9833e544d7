// --upstream's URL and the request body an OpenAI-compatible upstream gets.
#include "backends/upstream/sse_lines.hpp"
#include "backends/upstream/upstream_backend.hpp"
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
    for (const char* bad : {"grpc+http://x/v1", "ftp://x/v1", "openai+ftp://x", "openai+http://x:0/v1",
                            "openai+http://x:99999/v1", "openai+http://:80/v1", "openai+http://x/v1#colour=red",
                            "openai+http://x/v1#model=", "openai+http://u@x/v1", "openai+http://x/v1?a=1",
                            "openai+http://x/v1#body=multipart", "http://x/run#model=m", "http://x/run#body=xml",
                            "http://x/run#key_env=1BAD", "http://x/run#header_env=X-Key", "http://x/run#header_env=X Key:V",
                            "http://x/run#timeout=soon", "http://x/run#max_body=2GiB", "http://x/run#field=a..b",
                            "http://x/a b", "http://[::1/run", "x:80/run"}) {
        INFO(bad);
        error.clear();
        CHECK_FALSE(parse_upstream_url(bad, error));
        CHECK_FALSE(error.empty());
    }
}

TEST_CASE("https, the http kind and every setting", "[upstream]") {
    std::string error;
    auto tls = parse_upstream_url("openai+https://gpu.local/v1#timeout=90&connect_timeout=500ms&max_body=1MiB", error);
    INFO(error);
    REQUIRE(tls);
    CHECK(tls->tls());
    CHECK(tls->port == 443);
    CHECK(tls->timeout == std::chrono::milliseconds(90'000));
    CHECK(tls->connect_timeout == std::chrono::milliseconds(500));
    CHECK(tls->max_body == (1U << 20));
    CHECK(tls->display() == "https://gpu.local/v1");

    auto h = parse_upstream_url("http://127.0.0.1:7860/run/predict?fn=2#body=multipart&field=data.0&"
                                "header_env=X-Api-Key:APP_KEY&header_env=X-Org:ORG",
                                error);
    INFO(error);
    REQUIRE(h);
    CHECK(h->kind == "http");
    CHECK(h->base == "/run/predict?fn=2");
    CHECK(h->multipart);
    CHECK(h->field == "data.0");
    REQUIRE(h->header_env.size() == 2);
    CHECK(h->header_env[0] == std::pair<std::string, std::string>("X-Api-Key", "APP_KEY"));
    CHECK_FALSE(h->timeout);
    CHECK(h->display() == "http://127.0.0.1:7860/run/predict?fn=2");

    auto root = parse_upstream_url("http://[::1]:9000", error);
    REQUIRE(root);
    CHECK(root->host == "::1");
    CHECK(root->port == 9000);
    CHECK(root->base == "/");
    CHECK_FALSE(root->multipart);
}

TEST_CASE("gradio endpoints: /call/NAME, the inputs in order, the output index", "[upstream]") {
    std::string error;
    auto g = parse_upstream_url("gradio+http://127.0.0.1:7860/gradio_api/call/predict/#inputs=prompt,file:audio,param:voice", error);
    INFO(error);
    REQUIRE(g);
    CHECK(g->kind == "gradio");
    CHECK(g->base == "/gradio_api/call/predict");
    CHECK(g->gradio_root() == "/gradio_api");
    CHECK(g->inputs == std::vector<std::string>{"prompt", "file:audio", "param:voice"});
    CHECK(g->field == "0");
    auto v4 = parse_upstream_url("gradio+https://app.local/call/chat#field=1", error);
    REQUIRE(v4);
    CHECK(v4->gradio_root().empty());
    CHECK(v4->inputs == std::vector<std::string>{"prompt"});
    CHECK(v4->field == "1");
    for (const char* bad : {"gradio+http://h/run/predict", "gradio+http://h/call/", "gradio+http://h/call/x?a=1",
                            "gradio+http://h/call/x#inputs=prompt,image", "gradio+http://h/call/x#inputs=param:",
                            "gradio+http://h/call/x#body=multipart", "gradio+http://h/call/x#model=m"}) {
        INFO(bad);
        CHECK_FALSE(parse_upstream_url(bad, error));
    }
    job j;
    j.prompt = "hi";
    j.params_json = R"({"voice":"alto","n":2})";
    j.files.push_back(input_file{"audio", "a.wav", "audio/wav", 1, "x", ""});
    auto body = gradio_call_body(*g, j, [](const input_file& f) { return "{\"path\":\"/up/" + f.name + "\"}"; });
    CHECK(body == R"({"data":["hi",{"path":"/up/a.wav"},"alto"]})");
    j.files.clear();
    j.params_json = "{}";
    CHECK(gradio_call_body(*g, j, [](const input_file&) { return std::string("{}"); }) == R"({"data":["hi",null,null]})");
}

TEST_CASE("SSE events are read whole whatever the chunk boundaries", "[upstream]") {
    const std::string stream = ": comment\r\nevent: x\r\ndata: {\"a\":1}\r\n\r\ndata:two\ndata: lines\n\n"
                               "database: not data\nid: 7\n\ndata: [DONE]\n\n";
    for (std::size_t step : {1U, 2U, 3U, 7U, 1000U}) {
        INFO("step " << step);
        sse_lines lines;
        std::vector<std::string> events;
        for (std::size_t at = 0; at < stream.size(); at += step)
            lines.feed(std::string_view(stream).substr(at, step), [&](std::string_view e) { events.emplace_back(e); });
        CHECK(events == std::vector<std::string>{"{\"a\":1}", "two\nlines", "[DONE]"});
        CHECK(lines.pending() == 0);
    }
}

TEST_CASE("the http kind's request: JSON with base64 files, or multipart parts", "[upstream]") {
    job j;
    j.request_id = "r-1";
    j.space = "tts";
    j.prompt = "Say \"hi\"";
    j.params_json = R"({"voice":"alto"})";
    j.files.push_back(input_file{"audio", "a\"b.wav", "audio/wav", 3, std::string("\x00\x01\xff", 3), ""});
    upstream_target t;
    std::string error;
    t.url = *parse_upstream_url("http://127.0.0.1:1/run", error);
    t.headers = {{"X-Api-Key", "k"}};
    auto json = http_upstream_request(t, j);
    CHECK(json.target == "/run");
    CHECK(json.content_type == "application/json");
    CHECK(json.headers == t.headers);
    simdjson::dom::parser p;
    auto doc = p.parse(json.body);
    CHECK(std::string_view(doc["prompt"]) == "Say \"hi\"");
    CHECK(std::string_view(doc["params"]["voice"]) == "alto");
    CHECK(std::string_view(doc["files"].at(0)["data"]) == "AAH/");
    CHECK(std::string_view(doc["files"].at(0)["name"]) == "a\"b.wav");
    CHECK(doc["messages"].error() == simdjson::NO_SUCH_FIELD);

    t.url.multipart = true;
    auto mp = http_upstream_request(t, j);
    REQUIRE(mp.content_type.starts_with("multipart/form-data; boundary="));
    const std::string boundary = mp.content_type.substr(mp.content_type.find('=') + 1);
    CHECK(mp.body.starts_with("--" + boundary + "\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nSay \"hi\"\r\n"));
    // The quote in the file name cannot end the header's string.
    CHECK(mp.body.find("name=\"audio\"; filename=\"a_b.wav\"\r\nContent-Type: audio/wav\r\n\r\n" +
                       std::string("\x00\x01\xff", 3) + "\r\n") != std::string::npos);
    CHECK(mp.body.ends_with("--" + boundary + "--\r\n"));
}

TEST_CASE("model ids from a /models answer, bounded", "[upstream]") {
    CHECK(openai_model_ids(R"({"object":"list","data":[{"id":"a"},{"id":"b"},{"x":1}]})") ==
          std::vector<std::string>{"a", "b"});
    CHECK(openai_model_ids("not json").empty());
    CHECK(openai_model_ids(R"({"data":{}})").empty());
    std::string many = R"({"data":[)";
    for (int i = 0; i < 300; ++i) many += (i ? "," : "") + std::string(R"({"id":"m)") + std::to_string(i) + "\"}";
    CHECK(openai_model_ids(many + "]}").size() == 100);
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

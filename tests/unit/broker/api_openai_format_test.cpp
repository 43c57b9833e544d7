#include "api/openai_format.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

using namespace tether::broker::api;
namespace http = boost::beast::http;

namespace {
chat_request parse_ok(std::string_view body) {
    openai_error err;
    auto r = parse_chat_request(body, err);
    INFO(err.message);
    REQUIRE(r);
    return *r;
}
openai_error parse_bad(std::string_view body) {
    openai_error err;
    auto r = parse_chat_request(body, err);
    REQUIRE_FALSE(r);
    CHECK(err.status == http::status::bad_request);
    CHECK(err.type == "invalid_request_error");
    CHECK_FALSE(err.message.empty());
    return err;
}
} // namespace

TEST_CASE("a single user message is the prompt as written", "[openai]") {
    auto r = parse_ok(R"({"model":"echo","messages":[{"role":"user","content":"Hello there"}]})");
    CHECK(r.model == "echo");
    CHECK(r.prompt == "Hello there");
    CHECK(r.messages_json == R"([{"role":"user","content":"Hello there"}])");
    CHECK(r.params_json == "{}");
    CHECK_FALSE(r.stream);
}

TEST_CASE("a conversation becomes a transcript the model continues as the assistant", "[openai]") {
    auto r = parse_ok(R"({"model":"m","stream":true,"messages":[
        {"role":"system","content":"Be brief."},
        {"role":"user","content":[{"type":"text","text":"Hi"},{"type":"text","text":" you"}]},
        {"role":"assistant","content":null},
        {"role":"user","content":"Again"}]})");
    CHECK(r.stream);
    CHECK(r.prompt == "System: Be brief.\n\nUser: Hi you\n\nAssistant: \n\nUser: Again\n\nAssistant:");
    CHECK(r.messages.size() == 4);
    CHECK(r.messages[1].content == "Hi you");
}

TEST_CASE("sampling parameters go to the agent as params", "[openai]") {
    auto r = parse_ok(R"({"model":"m","messages":[{"role":"user","content":"x"}],
        "max_tokens":16,"temperature":0.5,"top_p":1,"stop":["\n","END"],"n":1,"seed":3})");
    CHECK(r.params_json == R"({"max_tokens":16,"temperature":0.5,"top_p":1,"stop":["\n","END"]})");
    CHECK(r.stop == std::vector<std::string>{"\n", "END"});
    auto single = parse_ok(R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":"###",
        "max_completion_tokens":3})");
    CHECK(single.stop == std::vector<std::string>{"###"});
    CHECK(single.params_json == R"({"max_tokens":3,"stop":["###"]})");
}

TEST_CASE("requests we cannot serve are refused with the parameter named", "[openai]") {
    CHECK(parse_bad("not json").param.empty());
    CHECK(parse_bad("[]").param.empty());
    CHECK(parse_bad(R"({"messages":[{"role":"user","content":"x"}]})").param == "model");
    CHECK(parse_bad(R"({"model":"m"})").param == "messages");
    CHECK(parse_bad(R"({"model":"m","messages":[]})").param == "messages");
    CHECK(parse_bad(R"({"model":"m","messages":[{"role":"wizard","content":"x"}]})").param == "messages[0].role");
    CHECK(parse_bad(R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url"}]}]})").param ==
          "messages[0].content");
    const std::string msgs = R"("messages":[{"role":"user","content":"x"}])";
    CHECK(parse_bad(R"({"model":"m",)" + msgs + R"(,"max_tokens":0})").param == "max_tokens");
    CHECK(parse_bad(R"({"model":"m",)" + msgs + R"(,"max_tokens":"5"})").param == "max_tokens");
    CHECK(parse_bad(R"({"model":"m",)" + msgs + R"(,"temperature":3})").param == "temperature");
    CHECK(parse_bad(R"({"model":"m",)" + msgs + R"(,"top_p":-0.1})").param == "top_p");
    CHECK(parse_bad(R"({"model":"m",)" + msgs + R"(,"n":2})").param == "n");
    CHECK(parse_bad(R"({"model":"m",)" + msgs + R"(,"stream":"yes"})").param == "stream");
    CHECK(parse_bad(R"({"model":"m",)" + msgs + R"(,"stop":["a","b","c","d","e"]})").param == "stop");
    CHECK(parse_bad(R"({"model":"m",)" + msgs + R"(,"stop":[""]})").param == "stop");
    CHECK(parse_bad(R"({"model":"m",)" + msgs + R"(,"stop":7})").param == "stop");
}

TEST_CASE("errors have OpenAI's shape, with null for what is not known", "[openai]") {
    auto body = openai_error_json({http::status::not_found, "no \"such\" model", "invalid_request_error", "model",
                                   "model_not_found"});
    CHECK(body == R"({"error":{"message":"no \"such\" model","type":"invalid_request_error","param":"model",)"
                  R"("code":"model_not_found"}})");
    auto plain = openai_error_json({http::status::bad_request, "bad", "invalid_request_error", "", ""});
    CHECK(plain == R"({"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}})");
    auto res = openai_error_response({http::status::too_many_requests, "slow down", "requests", "", "x"});
    CHECK(res.result() == http::status::too_many_requests);
    CHECK(res[http::field::content_type] == "application/json");
}

TEST_CASE("a completion, its chunks and the model list are well-formed JSON in OpenAI's layout", "[openai]") {
    completion_ids ids{"chatcmpl-1", 1700000000, "echo"};
    simdjson::dom::parser p;
    auto c = p.parse(completion_json(ids, "hi \"there\"", "stop", R"({"prompt_tokens":1})"));
    CHECK(std::string_view(c["object"]) == "chat.completion");
    CHECK(std::string_view(c["choices"].at(0)["message"]["content"]) == "hi \"there\"");
    CHECK(std::string_view(c["choices"].at(0)["finish_reason"]) == "stop");
    CHECK(int64_t(c["usage"]["prompt_tokens"]) == 1);
    CHECK(int64_t(c["created"]) == 1700000000);

    auto first = p.parse(chunk_json(ids, "assistant", "", std::nullopt));
    CHECK(std::string_view(first["object"]) == "chat.completion.chunk");
    CHECK(std::string_view(first["choices"].at(0)["delta"]["role"]) == "assistant");
    CHECK(first["choices"].at(0)["finish_reason"].is_null());
    auto last = p.parse(chunk_json(ids, std::nullopt, std::nullopt, "length"));
    CHECK(last["choices"].at(0)["delta"].get_object().value().size() == 0);
    CHECK(std::string_view(last["choices"].at(0)["finish_reason"]) == "length");

    CHECK(sse_data("{}") == "data: {}\n\n");
    auto models = p.parse(models_json({"a", "b"}, 0));
    CHECK(std::string_view(models["object"]) == "list");
    CHECK(std::string_view(models["data"].at(1)["id"]) == "b");
    CHECK(std::string_view(models["data"].at(1)["object"]) == "model");
}

TEST_CASE("the agent's completed event gives output, finish reason and usage", "[openai]") {
    auto r = read_completed_event(
        R"({"result":{"output":"done","finish_reason":"length","usage":{"completion_tokens":2}},"inference_ms":3})");
    CHECK(r.output == "done");
    CHECK(r.finish_reason == "length");
    CHECK(r.usage_json == R"({"completion_tokens":2})");
    auto odd = read_completed_event(R"({"result":{"output":5,"finish_reason":"because"}})");
    CHECK(odd.output.empty());
    CHECK(odd.finish_reason.empty());
    CHECK(read_delta_text(R"({"seq":1,"text":"a\nb"})") == "a\nb");
    CHECK_FALSE(read_delta_text("{}"));
    CHECK(read_event_error(R"({"error":{"code":"timeout","message":"too slow"}})") ==
          std::pair<std::string, std::string>{"timeout", "too slow"});
}

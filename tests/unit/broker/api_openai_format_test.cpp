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
    CHECK(r.params_json == R"({"max_tokens":16,"temperature":0.5,"top_p":1,"seed":3,"stop":["\n","END"]})");
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
    auto models = p.parse(models_json({{"a", "", 0}, {"b", "llama-3b", 4096}}, 0));
    CHECK(std::string_view(models["object"]) == "list");
    CHECK(std::string_view(models["data"].at(1)["id"]) == "b");
    CHECK(std::string_view(models["data"].at(1)["object"]) == "model");
    CHECK(std::string_view(models["data"].at(1)["root"]) == "llama-3b");
    CHECK(std::int64_t(models["data"].at(1)["max_model_len"]) == 4096);
    CHECK(models["data"].at(0)["max_model_len"].error() == simdjson::NO_SUCH_FIELD);
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

TEST_CASE("the full sampling surface is range-checked and passed on", "[openai]") {
    const std::string msgs = R"("model":"m","messages":[{"role":"user","content":"x"}])";
    auto r = parse_ok("{" + msgs + R"(,"top_k":40,"min_p":0.05,"presence_penalty":0.5,"frequency_penalty":-0.5,
        "repetition_penalty":1.1,"stop_token_ids":[2,7],"ignore_eos":true,"logprobs":true,"top_logprobs":3,
        "stream":true,"stream_options":{"include_usage":true}})");
    CHECK(r.params_json == R"({"top_k":40,"min_p":0.05,"presence_penalty":0.5,"frequency_penalty":-0.5,)"
                           R"("repetition_penalty":1.1,"stop_token_ids":[2,7],"ignore_eos":true,"logprobs":true,)"
                           R"("top_logprobs":3})");
    CHECK(r.include_usage);
    CHECK(r.logprobs);
    CHECK(r.api == openai_api::chat);
    CHECK(parse_bad("{" + msgs + R"(,"top_k":-2})").param == "top_k");
    CHECK(parse_bad("{" + msgs + R"(,"top_k":1.5})").param == "top_k");
    CHECK(parse_bad("{" + msgs + R"(,"min_p":2})").param == "min_p");
    CHECK(parse_bad("{" + msgs + R"(,"presence_penalty":2.5})").param == "presence_penalty");
    CHECK(parse_bad("{" + msgs + R"(,"frequency_penalty":"a"})").param == "frequency_penalty");
    CHECK(parse_bad("{" + msgs + R"(,"repetition_penalty":0})").param == "repetition_penalty");
    CHECK(parse_bad("{" + msgs + R"(,"seed":"x"})").param == "seed");
    CHECK(parse_bad("{" + msgs + R"(,"stop_token_ids":[-1]})").param == "stop_token_ids");
    CHECK(parse_bad("{" + msgs + R"(,"stop_token_ids":3})").param == "stop_token_ids");
    CHECK(parse_bad("{" + msgs + R"(,"ignore_eos":1})").param == "ignore_eos");
    CHECK(parse_bad("{" + msgs + R"(,"logprobs":3})").param == "logprobs");
    CHECK(parse_bad("{" + msgs + R"(,"top_logprobs":2})").param == "top_logprobs");
    CHECK(parse_bad("{" + msgs + R"(,"logprobs":true,"top_logprobs":21})").param == "top_logprobs");
    CHECK(parse_bad("{" + msgs + R"(,"stream_options":{"include_usage":"yes"}})").param == "stream_options");
    CHECK(parse_bad("{" + msgs + R"(,"stream_options":5})").param == "stream_options");
}

namespace {
chat_request completion_ok(const std::string& body) {
    openai_error e;
    auto r = parse_completion_request(body, e);
    INFO(e.message);
    REQUIRE(r);
    return *r;
}
std::string completion_bad(const std::string& body) {
    openai_error e;
    auto r = parse_completion_request(body, e);
    REQUIRE_FALSE(r);
    CHECK(e.status == http::status::bad_request);
    CHECK(!e.message.empty());
    return e.param;
}
} // namespace

TEST_CASE("a completions request is a prompt, with logprobs as a number of alternatives", "[openai]") {
    auto r = completion_ok(R"({"model":"m","prompt":"Once upon","max_tokens":5,"logprobs":2,"echo":false})");
    CHECK(r.api == openai_api::completions);
    CHECK(r.prompt == "Once upon");
    CHECK(r.messages.empty());
    CHECK(r.params_json == R"({"max_tokens":5,"logprobs":2})");
    CHECK(r.logprobs);
    CHECK(completion_ok(R"({"model":"m","prompt":["one"]})").prompt == "one");
    CHECK_FALSE(completion_ok(R"({"model":"m","prompt":"a","logprobs":0})").params_json.empty());
    CHECK(completion_bad(R"({"model":"m"})") == "prompt");
    CHECK(completion_bad(R"({"model":"m","prompt":""})") == "prompt");
    CHECK(completion_bad(R"({"model":"m","prompt":["a","b"]})") == "prompt");
    CHECK(completion_bad(R"({"model":"m","prompt":[1,2,3]})") == "prompt");
    CHECK(completion_bad(R"({"prompt":"a"})") == "model");
    CHECK(completion_bad(R"({"model":"m","prompt":"a","echo":true})") == "echo");
    CHECK(completion_bad(R"({"model":"m","prompt":"a","suffix":"z"})") == "suffix");
    CHECK(completion_bad(R"({"model":"m","prompt":"a","best_of":2})") == "best_of");
    CHECK(completion_bad(R"({"model":"m","prompt":"a","logprobs":6})") == "logprobs");
    CHECK(completion_bad(R"({"model":"m","prompt":"a","logprobs":true})") == "logprobs");
}

TEST_CASE("log-probabilities are written in the chat layout and the completions legacy layout", "[openai]") {
    completion_ids ids{"cmpl-1", 1700000000, "m"};
    const std::string lp = R"([{"token":"h\u00e9","logprob":-0.5,"bytes":[104,195,169],)"
                           R"("top_logprobs":[{"token":"h\u00e9","logprob":-0.5},{"token":"a","logprob":-1.5}]},)"
                           R"({"token":"!","logprob":-0.25,"bytes":[33],"top_logprobs":[]}])";
    simdjson::dom::parser p;
    auto chat = p.parse(completion_json(ids, "hé!", "stop", "", lp));
    CHECK(std::string_view(chat["choices"].at(0)["logprobs"]["content"].at(1)["token"]) == "!");
    CHECK(chat["choices"].at(0)["logprobs"]["refusal"].is_null());
    auto none = p.parse(completion_json(ids, "x", "stop", ""));
    CHECK(none["choices"].at(0)["logprobs"].is_null());

    auto text = p.parse(text_completion_json(ids, "hé!", "length", R"({"completion_tokens":2})", lp));
    CHECK(std::string_view(text["object"]) == "text_completion");
    CHECK(std::string_view(text["choices"].at(0)["text"]) == "hé!");
    auto legacy = text["choices"].at(0)["logprobs"];
    CHECK(std::string_view(legacy["tokens"].at(0)) == "hé");
    CHECK(double(legacy["token_logprobs"].at(1)) == -0.25);
    CHECK(double(legacy["top_logprobs"].at(0)["a"]) == -1.5);
    CHECK(std::uint64_t(legacy["text_offset"].at(1)) == 2); // characters, not bytes
    auto chunk = p.parse(text_chunk_json(ids, "x", std::nullopt));
    CHECK(chunk["choices"].at(0)["finish_reason"].is_null());
    CHECK(chunk["choices"].at(0)["logprobs"].is_null());

    auto usage = p.parse(usage_chunk_json(ids, openai_api::chat, R"({"prompt_tokens":3})"));
    CHECK(std::string_view(usage["object"]) == "chat.completion.chunk");
    CHECK(usage["choices"].get_array().value().size() == 0);
    CHECK(std::int64_t(usage["usage"]["prompt_tokens"]) == 3);

    auto done = read_completed_event(R"({"result":{"output":"x","logprobs":[{"token":"x","logprob":-1}]}})");
    CHECK(done.logprobs_json == R"([{"token":"x","logprob":-1}])");
}

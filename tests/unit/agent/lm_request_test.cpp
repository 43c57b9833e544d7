// A text-generation job read for a language model: the prompt encoded (or
// the messages rendered with the model's template), the sampling parameters
// range-checked with messages naming the parameter, the context respected.
#include "backends/model/lm_request.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace tether::agent;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

const text::model_text& tinyllama() {
    static const auto m = text::model_text::load(fs::path(TETHER_SOURCE_DIR).parent_path() /
                                                 "shared/tokenizers/llama2/tinyllama-1.1b-chat-v1.0");
    return m;
}

job make_job(std::string prompt, std::string params = "{}", std::string messages = "") {
    job j;
    j.prompt = std::move(prompt);
    j.params_json = std::move(params);
    j.messages_json = std::move(messages);
    return j;
}

prepared<lm_generation> prep(const job& j, std::uint32_t context = 64) {
    lm_request_limits l;
    l.context = context;
    return prepare_lm_generation(j, tinyllama(), l, 77);
}

} // namespace

TEST_CASE("a prompt is encoded with the tokenizer's special tokens, messages with the template's", "[lm_request]") {
    auto p = prep(make_job("Hello, world!"));
    REQUIRE(p.ok());
    CHECK(p.value->prompt == std::vector<std::int64_t>{1, 15043, 29892, 3186, 29991});
    CHECK_FALSE(p.value->chat);
    auto c = prep(make_job("ignored", "{}", R"([{"role":"user","content":"Hi"}])"));
    REQUIRE(c.ok());
    CHECK(c.value->chat);
    const auto expected = tinyllama().tokens().encode("<|user|>\nHi</s>\n<|assistant|>\n", false);
    CHECK(c.value->prompt == std::vector<std::int64_t>(expected.begin(), expected.end()));
}

TEST_CASE("defaults come from generation_config.json, max_tokens from the room left", "[lm_request]") {
    auto p = prep(make_job("Hello"));
    REQUIRE(p.ok());
    CHECK(p.value->max_tokens == 64 - p.value->prompt.size());
    CHECK(p.value->seed == 77);
    CHECK(p.value->sampling.temperature == 1.0); // TinyLlama's generation_config sets none
}

TEST_CASE("every sampling parameter is read and range-checked", "[lm_request]") {
    auto p = prep(make_job("Hello", R"({"max_completion_tokens":5,"temperature":0,"top_p":0.5,"top_k":7,"min_p":0.1,
        "seed":-3,"presence_penalty":1.5,"frequency_penalty":-0.5,"repetition_penalty":1.2,"stop":"\n\n",
        "stop_token_ids":[2,13],"ignore_eos":true,"logprobs":true,"top_logprobs":3})"));
    REQUIRE(p.ok());
    const auto& g = *p.value;
    CHECK(g.max_tokens == 5);
    CHECK(g.sampling.temperature == 0);
    CHECK(g.sampling.top_p == 0.5);
    CHECK(g.sampling.top_k == 7);
    CHECK(g.sampling.min_p == 0.1);
    CHECK(g.seed == static_cast<std::uint64_t>(-3));
    CHECK(g.sampling.presence_penalty == 1.5);
    CHECK(g.sampling.frequency_penalty == -0.5);
    CHECK(g.sampling.repetition_penalty == 1.2);
    CHECK(g.stop == std::vector<std::string>{"\n\n"});
    CHECK(g.stop_token_ids == std::set<std::int64_t>{2, 13});
    CHECK(g.ignore_eos);
    CHECK(g.logprobs);
    CHECK(g.sampling.top_logprobs == 3);
    // The completions API's logprobs: a number of alternatives.
    auto c = prep(make_job("Hello", R"({"logprobs":4})"));
    REQUIRE(c.ok());
    CHECK(c.value->logprobs);
    CHECK(c.value->sampling.top_logprobs == 4);

    const std::vector<std::pair<std::string, std::string>> bad = {
        {R"({"temperature":2.5})", "params.temperature"},     {R"({"top_p":0})", "params.top_p"},
        {R"({"top_k":1.5})", "params.top_k"},                 {R"({"min_p":2})", "params.min_p"},
        {R"({"presence_penalty":3})", "params.presence_penalty"}, {R"({"repetition_penalty":0})", "params.repetition_penalty"},
        {R"({"max_tokens":0})", "params.max_tokens"},         {R"({"max_tokens":1000})", "context"},
        {R"({"stop":["a","b","c","d","e"]})", "at most 4"},   {R"({"stop":[""]})", "params.stop"},
        {R"({"stop":7})", "params.stop"},                     {R"({"stop_token_ids":[99999]})", "params.stop_token_ids"},
        {R"({"logprobs":"yes"})", "params.logprobs"},         {R"({"top_logprobs":3})", "needs params.logprobs"},
        {R"({"top_logprobs":30,"logprobs":true})", "params.top_logprobs"}, {R"({"ignore_eos":1})", "params.ignore_eos"},
        {"[1]", "JSON object"}};
    for (const auto& [params, words] : bad) {
        INFO(params);
        auto r = prep(make_job("Hello", params));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error.code == "bad_input");
        CHECK_THAT(r.error.message, Contains(words));
    }
}

TEST_CASE("a prompt past the context, an empty one, or messages a template refuses are bad input", "[lm_request]") {
    auto long_prompt = prep(make_job(std::string(400, 'x') + " y z"), 32);
    REQUIRE_FALSE(long_prompt.ok());
    CHECK_THAT(long_prompt.error.message, Contains("context is 32"));
    CHECK_FALSE(prep(make_job("")).ok());
    auto bad_messages = prep(make_job("", "{}", "not json"));
    REQUIRE_FALSE(bad_messages.ok());
}

TEST_CASE("messages to a model without a chat template are refused saying so", "[lm_request]") {
    static const auto mistral =
        text::model_text::load(fs::path(TETHER_SOURCE_DIR).parent_path() / "shared/tokenizers/mistral-7b-v0.1");
    lm_request_limits l;
    auto r = prepare_lm_generation(make_job("", "{}", R"([{"role":"user","content":"Hi"}])"), mistral, l, 1);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error.message, Contains("no chat template"));
}

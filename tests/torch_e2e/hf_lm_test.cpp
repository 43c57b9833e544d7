// A Hugging Face model folder served by the real agent (--model SPACE=DIR)
// through the real broker and its OpenAI API, against independent
// references: the greedy continuation and log-probabilities of the Python
// model (tests/llm/reference.py, Debian's python3-torch), the prompt a chat
// template makes as Python's Jinja2 renders it (tests/text/jinja_reference.py).
// libtorch's headers (through lm_support.hpp) define a glog-style CHECK that
// aborts: they come before Catch's, so that CHECK here is Catch's.
#include "unit/lm/lm_support.hpp"

#include "e2e/agent_process.hpp"
#include "integration/itest_broker.hpp"
#include "testkit/child_process.hpp"

#include "text/tokenizer.hpp"

#include <simdjson.h>

#include <cmath>
#include <fstream>

using namespace tether::itest;
using tether::e2e::agent_process;
namespace fs = std::filesystem;
namespace lm = tether::lm_test;
namespace text = tether::agent::text;

namespace {

struct served_folder {
    itest_broker t;
    agent_process agent;
    fs::path folder;
    http_client client;

    static broker_setup spaces() {
        broker_setup s;
        s.with_bob = false;
        s.more_spaces = {{"Chat", {}}};
        return s;
    }

    explicit served_folder(const char* variant) : served_folder(lm::model_folder(variant)) {}
    explicit served_folder(fs::path dir) : t(spaces()), folder(std::move(dir)), client(t.broker.client()) {
        client.set_bearer(t.broker.add_api_key("alice"));
        client.set_timeout(60s);
        agent.start(t.broker.ws_url(), {"Chat=" + t.tokens.at("Chat")},
                    {"--backend", "torch", "--device", "cpu", "--model", "Chat=" + folder.string()});
        INFO("agent log:\n" << agent.log());
        REQUIRE(agent.wait_registered(60s));
    }

    http_response post(const std::string& path, const std::string& body) {
        auto r = client.post_json(path, body);
        INFO(r.describe() << "\nagent log:\n" << agent.log());
        REQUIRE(r.status == 200);
        return r;
    }
};

std::vector<std::int64_t> encode(const fs::path& folder, const std::string& s, bool special) {
    const auto tok = text::tokenizer::from_file(folder / "tokenizer.json");
    std::vector<std::int64_t> out;
    for (auto id : tok.encode(s, special)) out.push_back(id);
    return out;
}

std::string decode(const fs::path& folder, const std::vector<std::int64_t>& ids) {
    const auto tok = text::tokenizer::from_file(folder / "tokenizer.json");
    std::vector<text::token_id> v(ids.begin(), ids.end());
    return tok.decode(v, true);
}

// The chat prompt as Jinja2 renders the folder's template.
std::string jinja_render(const fs::path& folder, const std::string& messages_json) {
    const fs::path job = fs::path(lm::scratch()) / "jinja-job.json";
    std::ofstream(job) << R"({"now":"2026-01-01T00:00:00","cases":[{"folder":")" << folder.string()
                       << R"(","context":{"messages":)" << messages_json << R"(,"add_generation_prompt":true}}]})";
    auto r = tether::testkit::run_to_completion(
        {"/usr/bin/python3", std::string(TETHER_SOURCE_DIR) + "/tests/text/jinja_reference.py", job.string()}, {},
        lm::scratch(), 60s);
    INFO(r.err);
    REQUIRE(r.status.exited);
    REQUIRE(r.status.code == 0);
    simdjson::dom::parser p;
    std::string_view s;
    REQUIRE(!p.parse(r.out).at(0)["ok"].get_string().get(s));
    return std::string(s);
}

double log_softmax_at(const std::vector<float>& row, std::int64_t id) {
    double top = row[0];
    for (float x : row) top = std::max<double>(top, x);
    double sum = 0;
    for (float x : row) sum += std::exp(x - top);
    return row[static_cast<std::size_t>(id)] - top - std::log(sum);
}

} // namespace

TEST_CASE("a model folder answers /v1/completions as the Python reference continues it greedily, with its logprobs",
          "[torch-e2e][hf]") {
    served_folder s("llama3-gqa-bf16");
    auto models = s.client.get("/v1/models/Chat");
    CHECK(models.json().str("/root") == "llama3-gqa-bf16");
    CHECK(models.json().integer("/max_model_len") == 256); // max_position_embeddings, under --max-context

    const std::string prompt = "In the beginning God created";
    const int steps = 12;
    auto r = s.post("/v1/completions", R"({"model":"Chat","prompt":")" + prompt + R"(","max_tokens":12,)"
                                       R"("temperature":0,"ignore_eos":true,"logprobs":2})");
    auto doc = r.json();
    const auto prompt_ids = encode(s.folder, prompt, true);
    const auto ref = lm::run_reference(s.folder, {}, {{prompt_ids, steps}});
    REQUIRE(ref.greedy.size() == 1);
    CHECK(doc.str("/choices/0/text") == decode(s.folder, ref.greedy[0]));
    CHECK(doc.str("/choices/0/finish_reason") == "length");
    CHECK(doc.integer("/usage/prompt_tokens") == static_cast<std::int64_t>(prompt_ids.size()));
    CHECK(doc.integer("/usage/completion_tokens") == steps);

    // Each generated token's log-probability, from the reference's logits.
    auto whole = prompt_ids;
    whole.insert(whole.end(), ref.greedy[0].begin(), ref.greedy[0].end());
    const auto logits = lm::run_reference(s.folder, {whole}).logits.at(0);
    REQUIRE(doc.array_size("/choices/0/logprobs/token_logprobs") == std::optional<std::size_t>(steps));
    for (int i = 0; i < steps; ++i) {
        const auto row = logits.at(prompt_ids.size() - 1 + static_cast<std::size_t>(i));
        const double want = log_softmax_at(row, ref.greedy[0][static_cast<std::size_t>(i)]);
        const auto got = doc.number("/choices/0/logprobs/token_logprobs/" + std::to_string(i));
        INFO("token " << i);
        REQUIRE(got);
        CHECK(std::abs(*got - want) < 2e-3);
    }
}

TEST_CASE("a chat completion renders the folder's template as Jinja2 does and streams what it answers whole",
          "[torch-e2e][hf]") {
    served_folder s("qwen2-tied");
    const std::string messages = R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Who made light?"}])";
    auto whole = s.post("/v1/chat/completions", R"({"model":"Chat","messages":)" + messages +
                                                    R"(,"max_tokens":10,"temperature":0,"ignore_eos":true})");
    auto doc = whole.json();
    const auto prompt_ids = encode(s.folder, jinja_render(s.folder, messages), false);
    const auto ref = lm::run_reference(s.folder, {}, {{prompt_ids, 10}});
    CHECK(doc.str("/choices/0/message/content") == decode(s.folder, ref.greedy.at(0)));
    CHECK(doc.integer("/usage/prompt_tokens") == static_cast<std::int64_t>(prompt_ids.size()));

    sse_reader sse(s.client, "/v1/chat/completions", {},
                   R"({"model":"Chat","stream":true,"stream_options":{"include_usage":true},"messages":)" + messages +
                       R"(,"max_tokens":10,"temperature":0,"ignore_eos":true})");
    std::string streamed;
    std::optional<std::int64_t> usage;
    for (;;) {
        auto e = sse.next(60s);
        INFO("raw:\n" << sse.raw_body() << "\nagent log:\n" << s.agent.log());
        REQUIRE(e);
        if (e->data == "[DONE]") break;
        auto chunk = e->json();
        if (chunk.has("/choices/0/delta/content")) streamed += chunk.str("/choices/0/delta/content");
        if (chunk.has("/usage/completion_tokens")) usage = chunk.integer("/usage/completion_tokens");
    }
    CHECK(streamed == doc.str("/choices/0/message/content"));
    CHECK(usage == std::optional<std::int64_t>(10));

    // A seed makes sampling repeatable; a different seed (almost surely) not the same text.
    const std::string sampled = R"({"model":"Chat","prompt":"And the earth","max_tokens":16,"temperature":1.0,)"
                                R"("ignore_eos":true,"seed":)";
    const auto a = s.post("/v1/completions", sampled + "11}").json().str("/choices/0/text");
    const auto b = s.post("/v1/completions", sampled + "11}").json().str("/choices/0/text");
    const auto c = s.post("/v1/completions", sampled + "12}").json().str("/choices/0/text");
    CHECK(a == b);
    CHECK(a != c);
}

TEST_CASE("requests a model folder cannot take are answered with the reason and the agent keeps serving",
          "[torch-e2e][hf]") {
    // A copy of a folder without its chat template.
    const fs::path plain = fs::path(lm::scratch()) / "gpt2-no-template";
    fs::remove_all(plain);
    fs::copy(lm::model_folder("gpt2-plain-f16"), plain);
    std::ofstream(plain / "tokenizer_config.json", std::ios::trunc) << R"({"model_max_length":256})";
    served_folder s(plain);
    auto over = s.client.post_json("/v1/completions", R"({"model":"Chat","prompt":"a","max_tokens":5000})");
    INFO(over.describe());
    CHECK(over.status == 400);
    CHECK(over.json().str("/error/code") == "bad_input");
    CHECK(over.body.find("context of 256") != std::string::npos);
    auto chat = s.client.post_json("/v1/chat/completions",
                                   R"({"model":"Chat","messages":[{"role":"user","content":"hi"}]})");
    INFO(chat.describe());
    CHECK(chat.status == 400);
    CHECK(chat.body.find("chat template") != std::string::npos);
    auto ok = s.post("/v1/completions", R"({"model":"Chat","prompt":"a","max_tokens":3,"ignore_eos":true})");
    CHECK(ok.json().integer("/usage/completion_tokens") == 3);
}

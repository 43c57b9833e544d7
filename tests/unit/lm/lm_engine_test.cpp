// The engine: continuous batching gives each request the tokens it gets
// alone; a cancelled request frees its slot at once while the others go on;
// EOS, stop strings, stop token ids, max_tokens and the context end an answer
// with the right finish_reason; streamed deltas add up to the answer.
#include "lm_support.hpp"

#include "backends/model/lm_request.hpp"
#include "backends/torch/lm/lm_engine.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <thread>

using namespace tether;
using namespace tether::agent;
using namespace tether::lm_test;

namespace {

std::unique_ptr<lm::lm_engine> make_engine(const std::string& name, std::uint32_t slots, std::int64_t context = 256) {
    const auto folder = model_folder(name);
    auto text = std::make_shared<const text::model_text>(text::model_text::load(folder));
    lm::lm_engine_options o;
    o.slots = slots;
    o.max_context = context;
    o.prefill_chunk = 16; // small, so prompts take several steps beside others' decoding
    return std::make_unique<lm::lm_engine>(lm::load_causal_lm(folder, test_load_options()), text, o);
}

lm_generation request(const std::vector<std::int64_t>& prompt, std::uint32_t max_tokens, double temperature, std::uint64_t seed) {
    lm_generation g;
    g.prompt = prompt;
    g.max_tokens = max_tokens;
    g.sampling.temperature = temperature;
    g.sampling.top_p = 0.95;
    g.seed = seed;
    g.ignore_eos = true;
    g.logprobs = true;
    return g;
}

struct run_result {
    lm::lm_outcome outcome;
    std::string streamed;
};

run_result run(lm::lm_engine& e, const lm_generation& g, cancellation_token& cancel) {
    run_result r;
    r.outcome = e.generate(g, cancel, [&](std::string d) { r.streamed += d; });
    return r;
}

std::vector<std::int64_t> ids_of(const lm::lm_outcome& o) {
    std::vector<std::int64_t> ids;
    for (const auto& lp : o.logprobs) ids.push_back(lp.id);
    return ids;
}

} // namespace

TEST_CASE("8 concurrent requests under continuous batching get exactly the tokens each gets alone", "[lm][engine]") {
    for (const char* name : {"llama3-gqa-bf16", "mistral-window", "gpt2-prefixed"}) {
        INFO(name);
        std::vector<lm_generation> reqs;
        for (std::uint32_t k = 0; k < 8; ++k)
            reqs.push_back(request(some_ids(100 + k, 5 + 7 * k, 600), 24 + 3 * k, k % 2 ? 0.8 : 0.0, 42 + k));
        std::vector<std::vector<std::int64_t>> alone;
        {
            auto e = make_engine(name, 1);
            for (const auto& g : reqs) {
                cancellation_token c;
                alone.push_back(ids_of(run(*e, g, c).outcome));
            }
        }
        auto e = make_engine(name, 8);
        std::vector<std::future<run_result>> futures;
        std::vector<cancellation_token> cancels(reqs.size());
        for (std::size_t k = 0; k < reqs.size(); ++k)
            futures.push_back(std::async(std::launch::async, [&, k] { return run(*e, reqs[k], cancels[k]); }));
        for (std::size_t k = 0; k < reqs.size(); ++k) {
            const auto r = futures[k].get();
            INFO("request " << k);
            CHECK(ids_of(r.outcome) == alone[k]);
            CHECK(r.outcome.finish_reason == "length");
            CHECK(r.outcome.completion_tokens == reqs[k].max_tokens);
            CHECK(r.streamed == r.outcome.text);
        }
        CHECK(e->stats().widest_step > 1); // they did share steps
    }
}

TEST_CASE("a cancelled request frees its slot at once while the others go on", "[lm][engine]") {
    auto e = make_engine("llama2-mha-f16-sharded", 2);
    const auto a = request(some_ids(1, 12, 600), 200, 0.0, 1);
    const auto b = request(some_ids(2, 9, 600), 60, 0.0, 2);
    const auto c = request(some_ids(3, 7, 600), 20, 0.0, 3);
    std::vector<std::int64_t> b_alone;
    {
        auto solo = make_engine("llama2-mha-f16-sharded", 1);
        cancellation_token t;
        b_alone = ids_of(run(*solo, b, t).outcome);
    }
    cancellation_token ca, cb, cc;
    std::atomic<int> a_deltas{0};
    auto fa = std::async(std::launch::async, [&] {
        return e->generate(a, ca, [&](std::string) { ++a_deltas; });
    });
    auto fb = std::async(std::launch::async, [&] { return run(*e, b, cb); });
    while (a_deltas < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ca.cancel();
    const auto ra = fa.get();
    CHECK(ra.finish_reason == "cancelled");
    CHECK(ra.completion_tokens < 200);
    // The slot a held takes c while b is still decoding.
    auto fc = std::async(std::launch::async, [&] { return run(*e, c, cc); });
    const auto rc = fc.get();
    CHECK(rc.outcome.finish_reason == "length");
    CHECK(rc.outcome.completion_tokens == 20);
    const auto rb = fb.get();
    CHECK(ids_of(rb.outcome) == b_alone);
}

TEST_CASE("EOS, stop strings, stop token ids, max_tokens and the context end an answer", "[lm][engine]") {
    auto e = make_engine("qwen2-tied", 2, 64);
    const auto& tok = e->text().tokens();
    // Greedy run to learn what the model says.
    auto g = request(some_ids(9, 10, 600), 40, 0.0, 1);
    cancellation_token t0;
    const auto free_run = run(*e, g, t0).outcome;
    REQUIRE(free_run.completion_tokens == 40);
    const auto ids = ids_of(free_run);

    SECTION("a stop token id ends it, not shown") {
        auto s = g;
        s.stop_token_ids = {ids[5]};
        cancellation_token t;
        const auto r = run(*e, s, t);
        CHECK(r.outcome.finish_reason == "stop");
        // The first occurrence of that id ends it.
        const auto first = std::find(ids.begin(), ids.end(), ids[5]) - ids.begin();
        CHECK(r.outcome.completion_tokens == static_cast<std::size_t>(first + 1));
        CHECK(r.outcome.text == tok.decode(std::vector<text::token_id>(ids.begin(), ids.begin() + first), true));
    }
    SECTION("the EOS set ends it unless ignore_eos") {
        auto s = g;
        s.ignore_eos = false;
        const bool says_eos = std::any_of(ids.begin(), ids.end(), [&](auto id) { return e->text().eos_ids().count(static_cast<text::token_id>(id)); });
        cancellation_token t;
        const auto r = run(*e, s, t);
        CHECK(r.outcome.finish_reason == (says_eos ? "stop" : "length"));
    }
    SECTION("a stop string ends it and is never shown, even in deltas") {
        const std::string whole = free_run.text;
        REQUIRE(whole.size() > 20);
        auto s = g;
        s.stop = {whole.substr(10, 4)};
        cancellation_token t;
        const auto r = run(*e, s, t);
        CHECK(r.outcome.finish_reason == "stop");
        CHECK(r.outcome.text == whole.substr(0, whole.find(s.stop[0])));
        CHECK(r.streamed == r.outcome.text);
    }
    SECTION("the context ends it with length") {
        auto s = g;
        s.max_tokens = 1000;
        cancellation_token t;
        const auto r = run(*e, s, t);
        CHECK(r.outcome.finish_reason == "length");
        CHECK(r.outcome.prompt_tokens + r.outcome.completion_tokens == 64);
    }
}

// The language models' sampler: greedy is exactly the argmax; temperature,
// top_k, top_p and min_p draw from exactly the distribution they define
// (frequencies over many draws against probabilities computed here); the
// penalties change logits as vLLM does; a seed repeats; log-probabilities
// are the raw logits' log-softmax.
#include "backends/model/lm_sampler.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

using namespace tether::agent;

namespace {

std::vector<double> softmax(const std::vector<float>& l, double t) {
    std::vector<double> p;
    const double m = *std::max_element(l.begin(), l.end());
    for (float x : l) p.push_back(std::exp((x - m) / t));
    const double s = std::accumulate(p.begin(), p.end(), 0.0);
    for (auto& x : p) x /= s;
    return p;
}

// Draws `n` tokens with a fresh sampler each (no penalties in play) and
// compares the frequencies with `expected` (3.5 standard errors each).
void check_distribution(const std::vector<float>& logits, const lm_sampling& p, const std::vector<double>& expected) {
    const int n = 40000;
    std::map<std::uint32_t, int> counts;
    lm_sampler s(p, 12345, {});
    for (int i = 0; i < n; ++i) {
        auto l = logits;
        // The penalties are zero: the sampler's counts do not matter.
        ++counts[s.next(l).token];
    }
    for (std::size_t t = 0; t < expected.size(); ++t) {
        const double f = static_cast<double>(counts[static_cast<std::uint32_t>(t)]) / n;
        const double se = std::sqrt(std::max(expected[t] * (1 - expected[t]), 1e-9) / n);
        INFO("token " << t << " expected " << expected[t] << " got " << f);
        if (expected[t] == 0) CHECK(counts[static_cast<std::uint32_t>(t)] == 0);
        else CHECK(std::fabs(f - expected[t]) < 3.5 * se + 1e-4);
    }
}

const std::vector<float> logits = {1.0f, 3.0f, 2.5f, -1.0f, 0.0f, 2.9f, -3.0f, 1.5f};

} // namespace

TEST_CASE("temperature 0 is the argmax, the lowest id among equals", "[lm_sampler]") {
    lm_sampling p;
    p.temperature = 0;
    lm_sampler s(p, 1, {});
    auto l = logits;
    CHECK(s.next(l).token == 1);
    std::vector<float> ties = {0.5f, 2.0f, 2.0f};
    CHECK(s.next(ties).token == 1);
    std::vector<float> bad = {NAN, INFINITY, 1.0f};
    CHECK(s.next(bad).token == 2); // NaN and +inf never chosen
}

TEST_CASE("temperature alone draws from the softmax of logits over the temperature", "[lm_sampler]") {
    for (double t : {1.0, 0.6, 1.7}) {
        lm_sampling p;
        p.temperature = t;
        check_distribution(logits, p, softmax(logits, t));
    }
}

TEST_CASE("top_k, top_p and min_p keep exactly the tokens they define", "[lm_sampler]") {
    const auto full = softmax(logits, 1.0);
    std::vector<std::size_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return full[a] > full[b]; });
    auto renormalized = [&](const std::vector<bool>& keep) {
        std::vector<double> e(full.size(), 0.0);
        double s = 0;
        for (std::size_t i = 0; i < full.size(); ++i)
            if (keep[i]) s += full[i];
        for (std::size_t i = 0; i < full.size(); ++i)
            if (keep[i]) e[i] = full[i] / s;
        return e;
    };
    {
        lm_sampling p;
        p.top_k = 3;
        std::vector<bool> keep(full.size(), false);
        for (int i = 0; i < 3; ++i) keep[order[i]] = true;
        check_distribution(logits, p, renormalized(keep));
    }
    {
        lm_sampling p;
        p.top_p = 0.8;
        std::vector<bool> keep(full.size(), false);
        double c = 0;
        for (auto i : order) {
            keep[i] = true;
            c += full[i];
            if (c >= 0.8) break;
        }
        check_distribution(logits, p, renormalized(keep));
    }
    {
        lm_sampling p;
        p.min_p = 0.3;
        std::vector<bool> keep(full.size(), false);
        for (std::size_t i = 0; i < full.size(); ++i) keep[i] = full[i] >= 0.3 * full[order[0]];
        check_distribution(logits, p, renormalized(keep));
    }
}

TEST_CASE("penalties change the logits as vLLM's do", "[lm_sampler]") {
    lm_sampling p;
    p.temperature = 0;
    p.repetition_penalty = 2.0;
    p.presence_penalty = 0.5;
    p.frequency_penalty = 0.25;
    const std::vector<std::int64_t> prompt = {2};
    lm_sampler s(p, 1, prompt);
    // Prompt token 2 (2.5 -> 1.25 by repetition): 1 (3.0) wins.
    auto l = logits;
    CHECK(s.next(l).token == 1);
    CHECK(l[2] == Approx(1.25));
    // Now 1 is in the output once: 3.0 / 2 - 0.5 - 0.25 = 0.75; 5 (2.9) wins.
    l = logits;
    CHECK(s.next(l).token == 5);
    CHECK(l[1] == Approx(0.75));
    // Negative logits are multiplied: -1 * 2 for a seen token.
    lm_sampler s2(p, 1, std::vector<std::int64_t>{3});
    l = logits;
    (void)s2.next(l);
    CHECK(l[3] == Approx(-2.0));
}

TEST_CASE("the same seed gives the same tokens", "[lm_sampler]") {
    lm_sampling p;
    p.temperature = 1.3;
    p.top_p = 0.95;
    p.frequency_penalty = 0.1;
    auto run = [&](std::uint64_t seed) {
        lm_sampler s(p, seed, {});
        std::vector<std::uint32_t> out;
        for (int i = 0; i < 200; ++i) {
            auto l = logits;
            out.push_back(s.next(l).token);
        }
        return out;
    };
    CHECK(run(7) == run(7));
    CHECK(run(7) != run(8));
}

TEST_CASE("log-probabilities are the raw logits' log-softmax, best alternatives first", "[lm_sampler]") {
    lm_sampling p;
    p.temperature = 0;
    p.top_logprobs = 3;
    p.presence_penalty = 1.0; // does not change the reported log-probabilities
    lm_sampler s(p, 1, {});
    const auto probs = softmax(logits, 1.0);
    auto l = logits;
    const auto a = s.next(l);
    CHECK(a.token == 1);
    CHECK(a.logprob == Approx(std::log(probs[1])).margin(1e-5));
    REQUIRE(a.top.size() == 3);
    CHECK(a.top[0].token == 1);
    CHECK(a.top[1].token == 5);
    CHECK(a.top[2].token == 2);
    CHECK(a.top[2].logprob == Approx(std::log(probs[2])).margin(1e-5));
    // The second draw: 1 is penalized and 5 chosen; its logprob is still the raw one.
    l = logits;
    const auto b = s.next(l);
    CHECK(b.token == 5);
    CHECK(b.logprob == Approx(std::log(probs[5])).margin(1e-5));
}

TEST_CASE("a large vocabulary with top_p samples only from the head", "[lm_sampler]") {
    std::vector<float> big(50000, -10.0f);
    big[123] = 5.0f;
    big[4567] = 4.0f;
    big[40000] = 4.0f;
    lm_sampling p;
    p.top_p = 0.9;
    lm_sampler s(p, 3, {});
    std::map<std::uint32_t, int> seen;
    for (int i = 0; i < 2000; ++i) {
        auto l = big;
        ++seen[s.next(l).token];
    }
    for (const auto& [t, c] : seen) CHECK((t == 123 || t == 4567 || t == 40000));
}

// The token sampler: greedy, top_k, temperature softmax, seeding, and logits
// that are not finite.

#include "backends/model/token_sampler.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <vector>

using namespace tether::agent;

namespace {

std::vector<float> random_logits(std::mt19937& rng, std::size_t n) {
    std::normal_distribution<float> d(0.0f, 3.0f);
    std::vector<float> v(n);
    for (auto& x : v)
        x = d(rng);
    return v;
}

std::size_t argmax(const std::vector<float>& v) {
    return static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

} // namespace

TEST_CASE("greedy sampling picks the largest logit and the lowest index among equals", "[sampler]") {
    token_sampler s(1);
    const sampling_params greedy{0.0, 40};
    CHECK(s.sample(std::vector<float>{0.5f, 2.0f, -1.0f, 1.9f}, greedy) == 1);
    CHECK(s.sample(std::vector<float>{1.0f, 3.0f, 3.0f, 2.0f}, greedy) == 1);
    CHECK(s.sample(std::vector<float>{7.0f}, greedy) == 0);
    CHECK(s.sample(std::vector<float>{-5.0f, -5.0f}, sampling_params{-1.0, 0}) == 0); // negative = greedy
}

TEST_CASE("top_k 1 is greedy at any temperature", "[sampler]") {
    std::mt19937 rng(7);
    token_sampler s(42);
    for (const double temperature : {0.01, 0.8, 1.0, 5.0, 1000.0}) {
        for (int round = 0; round < 50; ++round) {
            const auto logits = random_logits(rng, 256);
            CHECK(s.sample(logits, sampling_params{temperature, 1}) == argmax(logits));
        }
    }
    CHECK(s.sample(std::vector<float>{1.0f, 4.0f, 4.0f}, sampling_params{3.0, 1}) == 1);
}

TEST_CASE("top_k 2 never draws outside the best two, and draws both", "[sampler]") {
    token_sampler s(3);
    const std::vector<float> logits{1.0f, 0.2f, 2.0f, 1.5f, 0.9f, 1.49f};
    std::set<std::size_t> seen;
    for (int i = 0; i < 10000; ++i)
        seen.insert(s.sample(logits, sampling_params{5.0, 2}));
    CHECK(seen == std::set<std::size_t>{2, 3});
}

TEST_CASE("sampled frequencies follow the softmax of logits over temperature", "[sampler]") {
    const std::vector<float> logits{0.0f, 1.0f, 2.0f, 0.5f, -1.0f};
    for (const double temperature : {1.0, 0.5, 2.0}) {
        std::vector<double> expected;
        double total = 0.0;
        for (const float l : logits) {
            expected.push_back(std::exp(l / temperature));
            total += expected.back();
        }
        token_sampler s(11);
        std::vector<int> counts(logits.size(), 0);
        const int draws = 20000;
        for (int i = 0; i < draws; ++i)
            ++counts[s.sample(logits, sampling_params{temperature, 0})];
        for (std::size_t i = 0; i < logits.size(); ++i) {
            INFO("temperature " << temperature << ", token " << i);
            CHECK(std::abs(counts[i] / double(draws) - expected[i] / total) < 0.02);
        }
    }
}

TEST_CASE("the same seed repeats the same tokens and another seed does not", "[sampler]") {
    std::mt19937 rng(5);
    std::vector<std::vector<float>> steps;
    for (int i = 0; i < 200; ++i)
        steps.push_back(random_logits(rng, 256));
    const auto run = [&](std::uint64_t seed) {
        token_sampler s(seed);
        std::vector<std::size_t> out;
        for (const auto& logits : steps)
            out.push_back(s.sample(logits, sampling_params{1.5, 40}));
        return out;
    };
    CHECK(run(1234) == run(1234));
    CHECK(run(1234) != run(1235));
}

TEST_CASE("NaN and infinite logits are never drawn and all non-finite falls back to 0", "[sampler]") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> logits{nan, inf, 1.0f, -inf, 2.0f, nan};

    token_sampler s(9);
    CHECK(s.sample(logits, sampling_params{0.0, 0}) == 4);
    std::set<std::size_t> seen;
    for (int i = 0; i < 2000; ++i)
        seen.insert(s.sample(logits, sampling_params{2.0, 0}));
    CHECK(seen == std::set<std::size_t>{2, 4});

    CHECK(s.sample(std::vector<float>{nan, inf, -inf}, sampling_params{1.0, 0}) == 0);
    CHECK(s.sample(std::vector<float>{nan, inf, -inf}, sampling_params{0.0, 0}) == 0);
    CHECK(s.sample(std::vector<float>{}, sampling_params{}) == 0);
}

TEST_CASE("a tiny temperature behaves as greedy and a huge top_k as the whole vocabulary", "[sampler]") {
    token_sampler s(17);
    const std::vector<float> logits{0.0f, 1.0f, 0.999f};
    for (int i = 0; i < 1000; ++i)
        CHECK(s.sample(logits, sampling_params{1e-6, 0}) == 1);
    std::set<std::size_t> seen;
    for (int i = 0; i < 2000; ++i)
        seen.insert(s.sample(logits, sampling_params{1.0, 100000}));
    CHECK(seen == std::set<std::size_t>{0, 1, 2});
}

// The native language models against the independent Python reference
// (tests/llm/reference.py): logits at every position of a prompt for every
// architecture variant, greedy generation token for token, and the KV cache
// (chunked prefill, one-token decoding, several sequences in one step) giving
// exactly what recomputing everything gives.
#include "lm_support.hpp"

#include "backends/torch/lm/causal_lm.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace tether;
using namespace tether::agent;
using namespace tether::lm_test;

namespace {

lm::lm_step one_row(std::int32_t slot, std::int64_t start, const std::vector<std::int64_t>& ids, bool all = true) {
    lm::lm_step s;
    s.rows.push_back({slot, start, static_cast<std::int64_t>(ids.size())});
    s.tokens = ids;
    s.all_logits = all;
    return s;
}

// Largest |a - b| relative to the row's scale.
double worst(const at::Tensor& ours, const std::vector<std::vector<float>>& ref) {
    REQUIRE(ours.size(0) == static_cast<std::int64_t>(ref.size()));
    double w = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        REQUIRE(ours.size(1) == static_cast<std::int64_t>(ref[i].size()));
        const float* p = ours[static_cast<std::int64_t>(i)].data_ptr<float>();
        double scale = 1;
        for (float x : ref[i]) scale = std::max(scale, static_cast<double>(std::fabs(x)));
        for (std::size_t j = 0; j < ref[i].size(); ++j) w = std::max(w, std::fabs(p[j] - ref[i][j]) / scale);
    }
    return w;
}

double worst(const at::Tensor& a, const at::Tensor& b) {
    REQUIRE(a.sizes() == b.sizes());
    const double scale = std::max(1.0, b.abs().max().item<double>());
    return (a - b).abs().max().item<double>() / scale;
}

std::int64_t best_token(const at::Tensor& row) {
    return row.argmax().item<std::int64_t>();
}

} // namespace

TEST_CASE("every architecture's logits match the Python reference at every position of a prompt", "[lm][reference]") {
    for (const auto& folder : model_folders()) {
        INFO(folder.filename().string());
        const auto model = lm::load_causal_lm(folder, test_load_options());
        const auto vocab = model->config().vocab_size;
        const std::vector<std::vector<std::int64_t>> seqs = {some_ids(1, 1, vocab), some_ids(2, 7, vocab), some_ids(3, 37, vocab)};
        const auto ref = run_reference(folder, seqs);
        for (std::size_t k = 0; k < seqs.size(); ++k) {
            auto cache = model->make_cache(1, 64);
            const at::Tensor logits = model->forward(one_row(0, 0, seqs[k]), cache);
            INFO("sequence of " << seqs[k].size());
            CHECK(worst(logits, ref.logits[k]) < 2e-5);
        }
    }
}

TEST_CASE("greedy generation matches the reference token for token", "[lm][reference]") {
    for (const auto& folder : model_folders()) {
        INFO(folder.filename().string());
        const auto model = lm::load_causal_lm(folder, test_load_options());
        const auto prompt = some_ids(7, 10, model->config().vocab_size);
        const int steps = 24; // past mistral-window's window of 8
        const auto ref = run_reference(folder, {}, {{prompt, steps}});
        auto cache = model->make_cache(2, 64);
        std::vector<std::int64_t> got;
        at::Tensor logits = model->forward(one_row(1, 0, prompt, false), cache);
        std::int64_t pos = static_cast<std::int64_t>(prompt.size());
        for (int i = 0; i < steps; ++i) {
            got.push_back(best_token(logits[0]));
            logits = model->forward(one_row(1, pos++, {got.back()}, false), cache);
        }
        CHECK(got == ref.greedy[0]);
    }
}

TEST_CASE("chunked prefill and one-token decoding give the logits of recomputing everything", "[lm][cache]") {
    for (const auto& folder : model_folders()) {
        INFO(folder.filename().string());
        const auto model = lm::load_causal_lm(folder, test_load_options());
        const auto ids = some_ids(11, 30, model->config().vocab_size);
        auto cache = model->make_cache(3, 40);
        const at::Tensor whole = model->forward(one_row(0, 0, ids), cache);
        std::vector<at::Tensor> parts;
        std::int64_t at = 0;
        for (std::int64_t n : {11, 1, 7, 1, 1, 9}) {
            const std::vector<std::int64_t> chunk(ids.begin() + at, ids.begin() + at + n);
            parts.push_back(model->forward(one_row(2, at, chunk), cache));
            at += n;
        }
        CHECK(worst(at::cat(parts, 0), whole) < 1e-5);
    }
}

TEST_CASE("several sequences in one step get what each gets alone", "[lm][cache]") {
    for (const auto& folder : model_folders()) {
        INFO(folder.filename().string());
        const auto model = lm::load_causal_lm(folder, test_load_options());
        const auto vocab = model->config().vocab_size;
        const auto a = some_ids(21, 12, vocab), b = some_ids(22, 5, vocab), c = some_ids(23, 20, vocab);
        // Alone, each in a cache of its own.
        auto alone = [&](const std::vector<std::int64_t>& ids, std::int64_t next) {
            auto cache = model->make_cache(1, 32);
            (void)model->forward(one_row(0, 0, ids, false), cache);
            return model->forward(one_row(0, static_cast<std::int64_t>(ids.size()), {next}, false), cache);
        };
        auto cache = model->make_cache(4, 32);
        // Prefill a and c in one step (slots 3 and 1), b alone (slot 0).
        lm::lm_step prefill;
        prefill.rows = {{3, 0, 12}, {1, 0, 20}};
        prefill.tokens = a;
        prefill.tokens.insert(prefill.tokens.end(), c.begin(), c.end());
        (void)model->forward(prefill, cache);
        (void)model->forward(one_row(0, 0, b, false), cache);
        // Then one decode step for all three.
        lm::lm_step decode;
        decode.rows = {{0, 5, 1}, {3, 12, 1}, {1, 20, 1}};
        decode.tokens = {7, 8, 9};
        const at::Tensor together = model->forward(decode, cache);
        CHECK(worst(together[0].unsqueeze(0), alone(b, 7)) < 1e-5);
        CHECK(worst(together[1].unsqueeze(0), alone(a, 8)) < 1e-5);
        CHECK(worst(together[2].unsqueeze(0), alone(c, 9)) < 1e-5);
    }
}

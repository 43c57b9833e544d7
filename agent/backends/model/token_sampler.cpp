#include "backends/model/token_sampler.hpp"

#include <algorithm>
#include <cmath>

namespace tether::agent {

token_sampler::token_sampler(std::uint64_t seed) : rng_(seed) {}

double token_sampler::uniform01() {
    // 53 random bits: std::uniform_real_distribution is not specified bit for
    // bit, and a seed must repeat the same text wherever the agent runs.
    return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

std::size_t token_sampler::sample(std::span<const float> logits, const sampling_params& p) {
    scratch_.clear();
    for (std::size_t i = 0; i < logits.size(); ++i)
        if (std::isfinite(logits[i])) scratch_.push_back({static_cast<double>(logits[i]), i});
    if (scratch_.empty()) return 0;

    // Best first, lowest index among equals, so greedy and top_k agree on ties.
    const auto better = [](const candidate& a, const candidate& b) {
        return a.logit > b.logit || (a.logit == b.logit && a.index < b.index);
    };
    const bool greedy = !(p.temperature > 0.0) || p.top_k == 1;
    if (greedy) return std::min_element(scratch_.begin(), scratch_.end(), better)->index;

    if (p.top_k != 0 && p.top_k < scratch_.size()) {
        const auto keep = static_cast<std::ptrdiff_t>(p.top_k);
        std::partial_sort(scratch_.begin(), scratch_.begin() + keep, scratch_.end(), better);
        scratch_.resize(p.top_k);
    }

    double max_logit = scratch_.front().logit;
    for (const auto& c : scratch_)
        max_logit = std::max(max_logit, c.logit);
    weights_.clear();
    double total = 0.0;
    for (const auto& c : scratch_) {
        // Max-subtraction keeps exp() in range; the best candidate weighs 1.
        const double w = std::exp((c.logit - max_logit) / p.temperature);
        weights_.push_back(w);
        total += w;
    }
    if (!(total > 0.0) || !std::isfinite(total))
        return std::min_element(scratch_.begin(), scratch_.end(), better)->index;

    const double target = uniform01() * total;
    double cumulative = 0.0;
    for (std::size_t i = 0; i < scratch_.size(); ++i) {
        cumulative += weights_[i];
        if (target < cumulative) return scratch_[i].index;
    }
    // Rounding left target at the very top: the last candidate that can be drawn.
    for (std::size_t i = scratch_.size(); i-- > 0;)
        if (weights_[i] > 0.0) return scratch_[i].index;
    return scratch_.front().index;
}

} // namespace tether::agent

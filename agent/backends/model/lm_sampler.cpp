#include "backends/model/lm_sampler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tether::agent {
namespace {

// Best first; the lower id first among equals.
bool better(const std::pair<float, std::uint32_t>& a, const std::pair<float, std::uint32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
}

} // namespace

lm_sampler::lm_sampler(const lm_sampling& params, std::uint64_t seed, std::span<const std::int64_t> prompt)
    : p_(params), rng_(seed) {
    if (p_.repetition_penalty != 1.0)
        for (auto t : prompt)
            if (t >= 0) seen_.insert(static_cast<std::uint32_t>(t));
}

double lm_sampler::uniform01() {
    return static_cast<double>(rng_() >> 11) * 0x1.0p-53; // 53 bits: the same on every standard library
}

sampled_token lm_sampler::next(std::span<float> logits) {
    sampled_token out;
    const std::size_t n = logits.size();
    if (n == 0) return out;
    constexpr float ninf = -std::numeric_limits<float>::infinity();
    for (auto& l : logits)
        if (!std::isfinite(l)) l = ninf; // NaN and +inf never drawn

    // Log-probabilities under the model, before any change.
    float raw_max = ninf;
    for (float l : logits) raw_max = std::max(raw_max, l);
    double raw_sum = 0;
    if (raw_max != ninf)
        for (float l : logits) raw_sum += std::exp(static_cast<double>(l - raw_max));
    const double raw_lse = raw_max == ninf ? 0 : raw_max + std::log(raw_sum);
    auto logprob_of = [&](float l) { return l == ninf ? ninf : static_cast<float>(l - raw_lse); };
    if (p_.top_logprobs > 0) {
        scratch_.clear();
        for (std::uint32_t i = 0; i < n; ++i) scratch_.emplace_back(logits[i], i);
        const auto k = std::min<std::size_t>(p_.top_logprobs, n);
        std::partial_sort(scratch_.begin(), scratch_.begin() + static_cast<std::ptrdiff_t>(k), scratch_.end(), better);
        for (std::size_t i = 0; i < k; ++i) out.top.push_back({scratch_[i].second, logprob_of(scratch_[i].first)});
    }
    raw_.assign(logits.begin(), logits.end());

    // Penalties (vLLM's order): repetition on prompt and output, then presence and frequency on the output.
    if (p_.repetition_penalty != 1.0)
        for (auto t : seen_)
            if (t < n && logits[t] != ninf) logits[t] = logits[t] > 0 ? logits[t] / static_cast<float>(p_.repetition_penalty)
                                                                        : logits[t] * static_cast<float>(p_.repetition_penalty);
    if (p_.presence_penalty != 0.0 || p_.frequency_penalty != 0.0)
        for (const auto& [t, c] : counts_)
            if (t < n && logits[t] != ninf)
                logits[t] -= static_cast<float>(p_.presence_penalty + p_.frequency_penalty * c);

    std::uint32_t chosen = 0;
    if (!(p_.temperature > 0.0) || p_.top_k == 1) {
        float best = ninf;
        for (std::uint32_t i = 0; i < n; ++i)
            if (logits[i] > best) best = logits[i], chosen = i;
    } else {
        // Candidates with their probabilities after temperature, best first as far as needed.
        scratch_.clear();
        float max_l = ninf;
        for (float l : logits) max_l = std::max(max_l, l);
        if (max_l != ninf) {
            for (std::uint32_t i = 0; i < n; ++i)
                if (logits[i] != ninf)
                    scratch_.emplace_back(static_cast<float>(std::exp((logits[i] - max_l) / p_.temperature)), i);
        }
        if (scratch_.empty()) {
            chosen = 0;
        } else {
            double total = 0;
            for (const auto& c : scratch_) total += c.first;
            std::size_t keep = scratch_.size();
            std::size_t sorted = 0; // scratch_[0, sorted) is in order
            auto sort_first = [&](std::size_t k) {
                k = std::min(k, scratch_.size());
                if (k > sorted) {
                    std::partial_sort(scratch_.begin() + static_cast<std::ptrdiff_t>(sorted),
                                      scratch_.begin() + static_cast<std::ptrdiff_t>(k), scratch_.end(), better);
                    sorted = k;
                }
            };
            if (p_.top_k > 0 && p_.top_k < keep) {
                sort_first(p_.top_k);
                keep = p_.top_k;
            }
            if (p_.top_p < 1.0) {
                double kept_total = 0;
                for (std::size_t i = 0; i < keep; ++i) kept_total += scratch_[i].first; // (all of them if unsorted)
                // The smallest best-first prefix whose share reaches top_p.
                std::size_t k = 0;
                double cumulative = 0;
                for (std::size_t batch = 64;; batch *= 4) {
                    sort_first(std::min(keep, batch));
                    while (k < sorted && k < keep) {
                        cumulative += scratch_[k].first;
                        ++k;
                        if (cumulative >= p_.top_p * kept_total) break;
                    }
                    if (cumulative >= p_.top_p * kept_total || k >= keep) break;
                }
                keep = std::max<std::size_t>(1, k);
            }
            if (p_.min_p > 0.0) {
                sort_first(1);
                const double floor = p_.min_p * scratch_[0].first;
                // Sorted candidates below the floor go; unsorted ones are filtered in place.
                std::size_t w = 0;
                for (std::size_t i = 0; i < keep; ++i)
                    if (scratch_[i].first >= floor) scratch_[w++] = scratch_[i];
                keep = std::max<std::size_t>(1, w);
            }
            total = 0;
            for (std::size_t i = 0; i < keep; ++i) total += scratch_[i].first;
            const double target = uniform01() * total;
            double cumulative = 0;
            chosen = scratch_[keep - 1].second;
            for (std::size_t i = 0; i < keep; ++i) {
                cumulative += scratch_[i].first;
                if (target < cumulative) {
                    chosen = scratch_[i].second;
                    break;
                }
            }
        }
    }
    out.token = chosen;
    out.logprob = logprob_of(raw_[chosen]);
    ++counts_[chosen];
    if (p_.repetition_penalty != 1.0) seen_.insert(chosen);
    return out;
}

} // namespace tether::agent

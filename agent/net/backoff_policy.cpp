#include "net/backoff_policy.hpp"

#include <algorithm>
#include <memory>
#include <random>

namespace tether::agent {

namespace {

backoff_policy::random_source default_random() {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    return [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

} // namespace

backoff_policy::backoff_policy(backoff_settings s, random_source random)
    : settings_(s), random_(random ? std::move(random) : default_random()), ceiling_(s.initial) {}

std::chrono::milliseconds backoff_policy::next_delay() {
    const double r = std::clamp(random_(), 0.0, 1.0);
    const auto delay = std::chrono::milliseconds{static_cast<std::int64_t>(r * static_cast<double>(ceiling_.count()))};
    ceiling_ = std::min(ceiling_ * 2, settings_.cap);
    return delay;
}

void backoff_policy::connection_ended(std::chrono::milliseconds uptime) {
    if (uptime >= settings_.stable_after) reset();
}

} // namespace tether::agent

#include "api/metrics_latency.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <sstream>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::api;
using namespace std::chrono_literals;

namespace {
// sample name with labels -> value, from Prometheus text (comments skipped).
std::map<std::string, double> samples(const std::string& text) {
    std::map<std::string, double> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        auto space = line.rfind(' ');
        REQUIRE(space != std::string::npos);
        out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return out;
}

request_record at(request_state state, std::chrono::milliseconds dispatched_after,
                  std::chrono::milliseconds finished_after) {
    request_record r;
    r.space = "echo";
    r.state = state;
    r.attempts = 1;
    r.created = time_point{1'800'000'000s};
    r.dispatched_at = r.created + dispatched_after;
    if (is_terminal(state)) r.finished_at = r.created + finished_after;
    return r;
}
} // namespace

TEST_CASE("histograms count queue wait at the first dispatch and latency at the end", "[metrics]") {
    latency_metrics m;
    m.observe_request(at(request_state::queued, 0ms, 0ms));
    m.observe_request(at(request_state::dispatched, 30ms, 0ms));
    auto requeued = at(request_state::dispatched, 5000ms, 0ms);
    requeued.attempts = 2; // a second dispatch is not a second queue wait
    m.observe_request(requeued);
    m.observe_request(at(request_state::processing, 30ms, 0ms));
    m.observe_request(at(request_state::completed, 30ms, 1500ms));
    m.observe_commit(2ms);
    m.count_rate_limited("echo", "user");

    auto s = samples(m.render());
    CHECK(s.at(R"(tether_queue_wait_seconds_count{space="echo"})") == 1);
    CHECK(s.at(R"(tether_queue_wait_seconds_bucket{space="echo",le="0.025"})") == 0);
    CHECK(s.at(R"(tether_queue_wait_seconds_bucket{space="echo",le="0.05"})") == 1);
    CHECK(s.at(R"(tether_queue_wait_seconds_bucket{space="echo",le="+Inf"})") == 1);
    CHECK(s.at(R"(tether_queue_wait_seconds_sum{space="echo"})") == Approx(0.03));
    CHECK(s.at(R"(tether_request_duration_seconds_bucket{space="echo",le="1"})") == 0);
    CHECK(s.at(R"(tether_request_duration_seconds_bucket{space="echo",le="2.5"})") == 1);
    CHECK(s.at(R"(tether_store_commit_seconds_bucket{le="0.0025"})") == 1);
    CHECK(s.at("tether_store_commit_seconds_count") == 1);
    CHECK(s.at(R"(tether_rate_limited_total{space="echo",limit="user"})") == 1);
}

TEST_CASE("every histogram family is declared once with HELP and TYPE", "[metrics]") {
    latency_metrics m;
    m.observe_request(at(request_state::completed, 1ms, 2ms));
    auto text = m.render();
    for (auto name : {"tether_queue_wait_seconds", "tether_request_duration_seconds", "tether_store_commit_seconds"}) {
        INFO(name);
        CHECK(text.find(std::string("# TYPE ") + name + " histogram\n") != std::string::npos);
        CHECK(text.find(std::string("# HELP ") + name + " ") != std::string::npos);
    }
    CHECK(prometheus_label("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
}

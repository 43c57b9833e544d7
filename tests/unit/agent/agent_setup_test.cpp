// From options to the register frame and the worker pool: per-space capacity,
// a fresh instance id per process, and backends chosen by name.

#include "app/agent_setup.hpp"
#include "backends/worker_pool.hpp"

#include "tether/shared/ids.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

using namespace tether::agent;
using namespace std::chrono_literals;

namespace {

agent_options two_spaces() {
    agent_options o;
    std::string err;
    o.broker = *parse_broker_url("ws://127.0.0.1:8080/agent", err);
    o.capacity = 2;
    o.spaces.push_back({"A", "ta", std::nullopt, {}});
    o.spaces.push_back({"B", "tb", 5U, {"m1"}});
    o.name = "box";
    return o;
}

} // namespace

TEST_CASE("the register frame carries each space's token, capacity and models and a UUID instance") {
    auto o = two_spaces();
    auto be = make_backend(o);
    auto rs = make_runner_settings(o, *be);
    const auto& reg = rs.connection.registration;
    CHECK(reg.protocol == 1);
    CHECK(reg.agent.name == "box");
    CHECK(tether::uuid::parse(reg.agent.instance).has_value());
    REQUIRE(reg.spaces.size() == 2);
    CHECK(reg.spaces[0].space == "A");
    CHECK(reg.spaces[0].token == "ta");
    CHECK(reg.spaces[0].capacity == 2);
    CHECK(reg.spaces[0].models == std::vector<std::string>{"mock"});
    CHECK(reg.spaces[1].capacity == 5);
    CHECK(reg.spaces[1].models == std::vector<std::string>{"m1"});
    CHECK(worker_count(o) == 7);
    o.workers = 3;
    CHECK(worker_count(o) == 3);
}

TEST_CASE("each agent process picks a different instance id") {
    auto o = two_spaces();
    auto be = make_backend(o);
    CHECK(make_runner_settings(o, *be).connection.registration.agent.instance !=
          make_runner_settings(o, *be).connection.registration.agent.instance);
}

TEST_CASE("a torch backend that cannot load its model, or is not built in, is a usage error") {
    auto o = two_spaces();
    o.backend = "torch";
    o.models["A"] = "/nonexistent/model.pt";
    o.models["B"] = "/nonexistent/model.pt";
    try {
        make_backend(o);
        FAIL("made a torch backend without its models");
    } catch (const usage_error& e) {
        const std::string what = e.what();
        // Built with libtorch: the missing file; without: the missing backend.
        CHECK((what.find("/nonexistent/model.pt does not exist") != std::string::npos ||
               what.find("has no torch backend") != std::string::npos));
    }
    o.backend = "mock";
    CHECK(make_backend(o)->name() == "mock");
}

TEST_CASE("the worker pool runs tasks on several threads and finishes queued ones before it goes") {
    std::atomic<int> ran{0};
    {
        worker_pool pool(3);
        CHECK(pool.size() == 3);
        for (int i = 0; i < 20; ++i)
            pool.submit([&ran] { ++ran; });
        pool.submit([] { throw std::runtime_error("a broken task"); }); // must not kill a worker
        for (int i = 0; i < 5; ++i)
            pool.submit([&ran] { ++ran; });
    }
    CHECK(ran == 25);
}

TEST_CASE("a cancellation token wakes a waiter at once") {
    cancellation_token token;
    CHECK_FALSE(token.wait_for(1ms));
    std::thread t([&token] {
        std::this_thread::sleep_for(20ms);
        token.cancel();
    });
    CHECK(token.wait_for(60s)); // returns on cancel, not after a minute
    t.join();
    CHECK(token.cancelled());
    CHECK(token.wait_for(0ms));
}

TEST_CASE("an unreadable --ca-file is a configuration error") {
    auto o = two_spaces();
    std::string err;
    o.broker = *parse_broker_url("wss://127.0.0.1:8443/agent", err);
    o.ca_file = "/nonexistent/ca.pem";
    auto be = make_backend(o);
    CHECK_THROWS_AS(agent_runner(make_runner_settings(o, *be), *be, 1), std::invalid_argument);
}

// What survives the broker process: every request that got a 202 is in the
// store before the answer, so a SIGKILL mid-burst loses none of them, and
// after a restart each still reaches exactly one terminal state. Queued
// requests keep their order across a graceful restart; dispatched ones are
// requeued; expired ones become timeout.
#include "integration/itest_broker.hpp"

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

using namespace tether::itest;

TEST_CASE("a SIGKILL mid-burst loses no accepted request and each ends exactly once after restart",
          "[durability]") {
    broker_setup s;
    s.echo.queue_limit = 100000;
    s.with_bob = false;
    itest_broker t(s);
    auto alice = t.signed_in("alice");

    constexpr int threads = 4;
    constexpr int per_thread = 50;
    std::mutex mu;
    std::vector<std::string> accepted;
    std::atomic<int> refused{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < threads; ++w) {
        workers.emplace_back([&, w] {
            http_client c = alice; // same session cookie, own connections
            c.set_timeout(5s);
            for (int i = 0; i < per_thread; ++i) {
                auto r = c.post_json("/api/spaces/echo/requests",
                                     "{\"prompt\":\"burst " + std::to_string(w) + "-" + std::to_string(i) + "\"}");
                if (r.status != 202) {
                    ++refused; // the broker died under us: stop
                    return;
                }
                auto id = r.json().str("/request_id");
                std::lock_guard lock(mu);
                accepted.push_back(id);
            }
        });
    }
    // Kill it once part of the burst is in.
    eventually(
        [&] {
            std::lock_guard lock(mu);
            return accepted.size() >= 80;
        },
        30s, 5ms);
    t.broker.kill9();
    for (auto& th : workers) {
        th.join();
    }
    std::vector<std::string> ids;
    {
        std::lock_guard lock(mu);
        ids = accepted;
    }
    INFO(ids.size() << " accepted before the kill, " << refused.load() << " workers saw it die");
    REQUIRE(ids.size() >= 80);

    t.broker.restart();
    auto again = t.signed_in("alice");
    for (const auto& id : ids) {
        int status = 0;
        auto doc = t.request_status(again, id, &status);
        INFO("request " << id << ": " << doc.text());
        REQUIRE(status == 200);
        CHECK(doc.str("/status") == "queued");
    }

    // An agent completes everything; every accepted request ends completed once.
    auto agent = t.echo_agent(8);
    std::set<std::string> delivered;
    std::set<std::string> wanted(ids.begin(), ids.end());
    std::size_t done_wanted = 0;
    while (done_wanted < wanted.size()) {
        auto req = agent->expect_request(5s);
        INFO(agent->last_error() << "\n" << done_wanted << " of " << wanted.size() << " done");
        REQUIRE(req);
        CHECK(delivered.insert(req->id()).second); // never delivered twice
        REQUIRE(agent->send_completed(req->id(), "ok"));
        done_wanted += wanted.count(req->id());
    }
    for (const auto& id : ids) {
        INFO("request " << id);
        CHECK(t.wait_status(again, id, "completed", 5s));
    }
}

TEST_CASE("queued requests keep their order across a graceful restart", "[durability]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    const std::string a = t.submit(alice, "first");
    const std::string b = t.submit(alice, "second");
    const std::string c = t.submit(alice, "third");
    auto st = t.broker.stop();
    INFO(st.describe() << "\n" << t.broker.stderr_tail());
    REQUIRE(st.exited);
    t.broker.restart();

    auto again = t.signed_in("alice");
    auto agent = t.echo_agent();
    for (const auto& id : {a, b, c}) {
        auto req = agent->expect_request();
        INFO(agent->last_error());
        REQUIRE(req);
        CHECK(req->id() == id);
        REQUIRE(agent->send_completed(req->id(), "ok"));
    }
    CHECK(t.wait_status(again, c, "completed", 5s));
}

TEST_CASE("a request dispatched when the broker died is requeued after restart", "[durability]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string id = t.submit(alice, "in flight at the crash");
    auto got = agent->expect_request();
    REQUIRE(got);
    REQUIRE(agent->send_processing(id));
    REQUIRE(eventually([&] { return t.request_status(alice, id).str("/status") == "processing"; }, 5s));
    t.broker.kill9();
    CHECK(agent->wait_closed(5s).has_value());
    t.broker.restart();

    auto again = t.signed_in("alice");
    auto agent2 = t.echo_agent();
    auto req = agent2->expect_request();
    INFO(agent2->last_error() << "\n" << t.broker.stderr_tail());
    REQUIRE(req);
    CHECK(req->id() == id);
    REQUIRE(agent2->send_completed(id, "second try"));
    CHECK(t.wait_status(again, id, "completed", 5s));
}

TEST_CASE("a request whose deadline passed while the broker was down becomes timeout", "[durability][timeout]") {
    broker_setup s;
    s.echo.timeout_s = 1;
    s.with_bob = false;
    itest_broker t(s);
    auto alice = t.signed_in("alice");
    const std::string id = t.submit(alice, "expires offline");
    const auto submitted = std::chrono::steady_clock::now();
    REQUIRE(t.broker.stop().exited);
    // Wait (bounded) until the deadline has certainly passed while it was down.
    std::this_thread::sleep_until(submitted + 1500ms);
    t.broker.restart();
    auto again = t.signed_in("alice");
    CHECK(t.wait_status(again, id, "timeout", 5s));
}

TEST_CASE("a finished request's result and terminal event are still served after a restart", "[durability][sse]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string id = t.submit(alice, "remember me");
    REQUIRE(agent->expect_request());
    REQUIRE(agent->send_completed(id, "remembered"));
    REQUIRE(t.wait_status(alice, id, "completed", 5s));
    REQUIRE(t.broker.stop().exited);
    t.broker.restart();

    auto again = t.signed_in("alice");
    auto doc = t.request_status(again, id);
    INFO(doc.text());
    CHECK(doc.str("/status") == "completed");
    CHECK(doc.str("/result/output") == "remembered");
    sse_reader late(again, "/api/requests/" + id + "/events");
    auto done = late.wait_for("completed", 5s);
    INFO("events: " << late.seen_names() << "\nraw:\n" << late.raw_body());
    REQUIRE(done);
    CHECK(done->has_id);
    CHECK(done->json().str("/result/output") == "remembered");
}

// Graceful shutdown of the real broker: SIGTERM makes it exit 0 and tell
// connected agents it is going away (close 1001).
#include "integration/itest_broker.hpp"

#include "tether/protocol/frames.hpp"

using namespace tether::itest;

TEST_CASE("SIGTERM makes the broker exit 0 and its agents see close 1001", "[shutdown]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string id = t.submit(alice, "pending at shutdown");
    REQUIRE(agent->expect_request());

    auto st = t.broker.stop(10s);
    INFO(st.describe() << "\nstderr:\n" << t.broker.stderr_tail());
    CHECK(st.exited);
    CHECK(st.code == 0);
    CHECK(agent->wait_closed(5s) == std::optional<std::uint16_t>(tether::protocol::close_going_away));
}

TEST_CASE("SIGTERM with an open SSE watcher still exits promptly", "[shutdown]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    const std::string id = t.submit(alice, "watched");
    sse_reader sse(alice, "/api/requests/" + id + "/events");
    REQUIRE(sse.wait_for("queued", 5s));
    auto st = t.broker.stop(10s);
    INFO(st.describe() << "\nstderr:\n" << t.broker.stderr_tail());
    CHECK(st.exited);
    CHECK(st.code == 0);
    CHECK(sse.wait_ended(5s));
}

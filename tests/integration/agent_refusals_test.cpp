// What the broker refuses on the agent WebSocket, and how: registration
// errors per space, 4001 when nothing was accepted, one connection per space
// (with takeover by the same agent instance), and hostile frames.
#include "integration/itest_broker.hpp"

#include "tether/protocol/codec.hpp"

using namespace tether::itest;
namespace protocol = tether::protocol;

namespace {

std::string error_code_of(const protocol::registered_frame& r, std::size_t i) {
    if (i >= r.spaces.size() || !r.spaces[i].error) {
        return {};
    }
    return r.spaces[i].error->code;
}

} // namespace

TEST_CASE("registering an unknown space is refused with unknown_space and closed with 4001", "[agent-refusal]") {
    itest_broker t;
    auto a = t.broker.agent();
    REQUIRE(a->connect());
    auto reg = a->register_spaces({agent_client::space("nope", t.echo_token)});
    INFO(a->last_error());
    REQUIRE(reg);
    REQUIRE(reg->spaces.size() == 1);
    CHECK_FALSE(reg->spaces[0].ok);
    CHECK(error_code_of(*reg, 0) == "unknown_space");
    CHECK(a->wait_closed(5s) == std::optional<std::uint16_t>(4001));
}

TEST_CASE("registering with a wrong token is refused with bad_token and closed with 4001", "[agent-refusal]") {
    itest_broker t;
    auto a = t.broker.agent();
    REQUIRE(a->connect());
    auto reg = a->register_spaces({agent_client::space("echo", "not-the-token-at-all-0123456789")});
    REQUIRE(reg);
    REQUIRE(reg->spaces.size() == 1);
    CHECK_FALSE(reg->spaces[0].ok);
    CHECK(error_code_of(*reg, 0) == "bad_token");
    CHECK(a->wait_closed(5s) == std::optional<std::uint16_t>(4001));
}

TEST_CASE("an unsupported protocol version is refused with bad_protocol", "[agent-refusal]") {
    itest_broker t;
    auto a = t.broker.agent();
    REQUIRE(a->connect());
    REQUIRE(a->send_register({agent_client::space("echo", t.echo_token)}, 99));
    auto f = a->next_frame(5s);
    INFO(a->last_error());
    REQUIRE(f);
    auto* reg = std::get_if<protocol::registered_frame>(&*f);
    REQUIRE(reg);
    REQUIRE(reg->spaces.size() == 1);
    CHECK_FALSE(reg->spaces[0].ok);
    CHECK(error_code_of(*reg, 0) == "bad_protocol");
    CHECK(a->wait_closed(5s) == std::optional<std::uint16_t>(4001));
}

TEST_CASE("a second agent for a taken space is refused and the first keeps serving", "[agent-refusal]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto first = t.echo_agent();

    auto second = t.broker.agent();
    REQUIRE(second->connect());
    auto reg = second->register_spaces({agent_client::space("echo", t.echo_token)});
    REQUIRE(reg);
    REQUIRE(reg->spaces.size() == 1);
    CHECK_FALSE(reg->spaces[0].ok);
    CHECK(error_code_of(*reg, 0) == "space_taken");
    CHECK(second->wait_closed(5s) == std::optional<std::uint16_t>(4001));

    const std::string id = t.submit(alice, "still yours");
    auto got = first->expect_request();
    INFO(first->last_error());
    REQUIRE(got);
    CHECK(got->id() == id);
}

TEST_CASE("a registration with the holder's agent instance takes the space over", "[agent-refusal]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto old_conn = t.echo_agent();

    auto fresh = t.broker.agent();
    fresh->set_instance(old_conn->instance());
    REQUIRE(fresh->connect());
    auto reg = fresh->register_spaces({agent_client::space("echo", t.echo_token)});
    INFO(fresh->last_error());
    REQUIRE(reg);
    REQUIRE(reg->spaces.size() == 1);
    CHECK(reg->spaces[0].ok);

    // The stale socket is closed by the broker; the new one gets the work.
    CHECK(old_conn->wait_closed(5s).has_value());
    const std::string id = t.submit(alice, "to the new socket");
    auto got = fresh->expect_request();
    INFO(fresh->last_error());
    REQUIRE(got);
    CHECK(got->id() == id);
}

TEST_CASE("one connection may register several spaces and keeps the accepted ones", "[agent-refusal]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto a = t.broker.agent();
    REQUIRE(a->connect());
    auto reg = a->register_spaces(
        {agent_client::space("echo", t.echo_token), agent_client::space("missing", "whatever-token-0123456789")});
    REQUIRE(reg);
    REQUIRE(reg->spaces.size() == 2);
    CHECK(reg->spaces[0].space == "echo");
    CHECK(reg->spaces[0].ok);
    CHECK(reg->spaces[1].space == "missing");
    CHECK_FALSE(reg->spaces[1].ok);
    CHECK(error_code_of(*reg, 1) == "unknown_space");
    CHECK(reg->heartbeat_s > 0);

    const std::string id = t.submit(alice, "partial registration");
    auto got = a->expect_request();
    INFO(a->last_error());
    REQUIRE(got);
    CHECK(got->id() == id);
}

TEST_CASE("a connection that never registers is closed after the register timeout", "[agent-refusal][slow]") {
    itest_broker t;
    auto a = t.broker.agent();
    REQUIRE(a->connect());
    // The contract gives 10 s; allow some slack for a loaded machine.
    auto code = a->wait_closed(16s);
    INFO("stderr:\n" << t.broker.stderr_tail());
    CHECK(code.has_value());
}

TEST_CASE("an unknown frame type is answered with an error frame and the connection stays", "[agent-refusal]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto a = t.echo_agent();
    REQUIRE(a->send_text(R"({"type":"teleport","to":"mars"})"));
    auto err = a->expect_error(5s);
    INFO(a->last_error());
    REQUIRE(err);
    CHECK(!err->code.empty());

    const std::string id = t.submit(alice, "still working");
    auto got = a->expect_request();
    INFO(a->last_error());
    REQUIRE(got);
    CHECK(got->id() == id);
}

TEST_CASE("a text frame over 1 MiB closes the connection with 1009", "[agent-refusal][hostile]") {
    itest_broker t;
    auto a = t.echo_agent();
    std::string huge = R"({"type":"drain","pad":")" + std::string((1U << 20) + 16, 'x') + "\"}";
    a->send_text(std::move(huge), 10s); // may fail part-way once the broker closes
    CHECK(a->wait_closed(10s) == std::optional<std::uint16_t>(1009));
    CHECK(t.broker.running());
}

TEST_CASE("garbage frames repeated close the connection with 4000", "[agent-refusal][hostile]") {
    itest_broker t;
    auto a = t.echo_agent();
    for (int i = 0; i < 50 && !a->is_closed(); ++i) {
        a->send_text(i % 2 == 0 ? "this is not json {{{" : R"({"no_type":true})");
    }
    CHECK(a->wait_closed(5s) == std::optional<std::uint16_t>(4000));
    CHECK(t.broker.running());
    auto c = t.broker.client();
    CHECK(c.get("/healthz").status == 200);
}

TEST_CASE("hostile frames from an agent never take the broker down", "[agent-refusal][hostile]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto a = t.echo_agent();
    const std::string id = t.submit(alice, "real one");
    REQUIRE(a->expect_request());
    // Results for requests it does not hold, a blob frame too short to have a
    // header, a blob for an unknown request, deep nesting, a wrong seq type.
    a->send_text(R"({"type":"inference_result","request_id":"00000000-0000-4000-8000-000000000000","status":"completed","result":{"output":"x"}})");
    a->send_text(R"({"type":"inference_result","request_id":"not-a-uuid","status":"processing"})");
    a->send_binary(std::string(5, '\x01'));
    a->send_binary(std::string(24, '\x00') + "data");
    a->send_text(std::string(5000, '[') + std::string(5000, ']'));
    a->send_text(R"({"type":"inference_result","request_id":")" + id + R"(","status":"streaming","seq":"one","delta":{"text":1}})");
    // The broker survives all of it and the real request can still finish
    // (unless the connection was closed for violations, which is allowed).
    auto c = t.broker.client();
    CHECK(eventually([&] { return c.get("/healthz").status == 200; }, 5s));
    CHECK(t.broker.running());
    if (!a->is_closed()) {
        a->send_completed(id, "fine");
        CHECK(t.wait_status(alice, id, "completed", 5s));
    }
}

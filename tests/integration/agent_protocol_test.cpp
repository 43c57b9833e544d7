// Agent protocol behaviour beyond the happy path: drain, several spaces on
// one connection, heartbeats that find a silent peer, blob chunk limits, and
// payloads that must arrive byte for byte.
#include "integration/itest_broker.hpp"

#include "testkit/raw_connection.hpp"
#include "tether/protocol/blob_header.hpp"
#include "tether/protocol/codec.hpp"

using namespace tether::itest;
namespace protocol = tether::protocol;

namespace {

// A client-to-server WebSocket text frame (FIN, masked), for the raw socket test.
std::string masked_text_frame(const std::string& payload) {
    std::string f;
    f.push_back(static_cast<char>(0x81));
    const std::size_t n = payload.size();
    if (n < 126) {
        f.push_back(static_cast<char>(0x80 | n));
    } else {
        f.push_back(static_cast<char>(0x80 | 126));
        f.push_back(static_cast<char>((n >> 8) & 0xFF));
        f.push_back(static_cast<char>(n & 0xFF));
    }
    const char mask[4] = {0x11, 0x22, 0x33, 0x44};
    f.append(mask, 4);
    for (std::size_t i = 0; i < n; ++i) {
        f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
    }
    return f;
}

} // namespace

TEST_CASE("a draining agent finishes what it holds and gets nothing new", "[agent-protocol]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent(1);
    const std::string a = t.submit(alice, "in flight");
    REQUIRE(agent->expect_request());
    REQUIRE(agent->send_drain());
    const std::string b = t.submit(alice, "after drain");
    REQUIRE(agent->send_completed(a, "finished anyway"));
    REQUIRE(t.wait_status(alice, a, "completed", 5s));
    // b stays queued: the slot freed, but the agent asked for nothing new.
    CHECK(t.request_status(alice, b).str("/status") == "queued");
    auto extra = agent->next_message(500ms);
    CHECK_FALSE(extra.has_value());
}

TEST_CASE("one connection serving two spaces gets each space's requests", "[agent-protocol]") {
    broker_setup s;
    s.with_bob = false;
    s.more_spaces = {{"other", space_options{}}};
    itest_broker t(s);
    auto alice = t.signed_in("alice");
    auto agent = t.broker.agent();
    REQUIRE(agent->connect());
    auto reg = agent->register_spaces(
        {agent_client::space("echo", t.echo_token), agent_client::space("other", t.tokens.at("other"))});
    REQUIRE(reg);
    REQUIRE(reg->spaces.size() == 2);
    CHECK(reg->spaces[0].ok);
    CHECK(reg->spaces[1].ok);

    const std::string e = t.submit(alice, "to echo", "echo");
    const std::string o = t.submit(alice, "to other", "other");
    std::map<std::string, std::string> space_of;
    for (int i = 0; i < 2; ++i) {
        auto req = agent->expect_request();
        INFO(agent->last_error());
        REQUIRE(req);
        space_of[req->id()] = req->frame.space;
    }
    CHECK(space_of[e] == "echo");
    CHECK(space_of[o] == "other");
    REQUIRE(agent->send_completed(o, "other done"));
    REQUIRE(agent->send_completed(e, "echo done"));
    CHECK(t.wait_status(alice, o, "completed", 5s));
    CHECK(t.wait_status(alice, e, "completed", 5s));
}

TEST_CASE("an agent that stops answering pings is dropped and its request requeued", "[agent-protocol][heartbeat]") {
    broker_setup s;
    s.with_bob = false;
    s.serve_args = {"--heartbeat", "1"};
    itest_broker t(s);
    auto alice = t.signed_in("alice");
    const std::string id = t.submit(alice, "held by a zombie");
    sse_reader sse(alice, "/api/requests/" + id + "/events");

    // A hand-made WebSocket client that registers and then never reads again,
    // so no pong ever goes back.
    raw_connection conn(t.broker.host(), t.broker.port());
    REQUIRE(conn.connect(2s));
    REQUIRE(conn.send("GET /agent HTTP/1.1\r\nHost: " + t.broker.host() +
                          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                      2s));
    auto head = conn.read_until("\r\n\r\n", 5s);
    INFO(head);
    REQUIRE(raw_status(head) == 101);
    protocol::register_frame reg;
    reg.agent = {"zombie", "0", "zombie-instance"};
    reg.spaces = {agent_client::space("echo", t.echo_token)};
    REQUIRE(conn.send(masked_text_frame(protocol::encode(reg)), 2s));
    REQUIRE(eventually([&] { return t.space_connected(alice) == std::optional<bool>(true); }, 5s));
    REQUIRE(eventually([&] { return t.request_status(alice, id).str("/status") == "dispatched"; }, 5s));

    // Silent for 2 intervals of 1 s: dead. Bounded well above that.
    auto requeued = sse.wait_for("requeued", 10s);
    INFO("events: " << sse.seen_names() << "\nstderr:\n" << t.broker.stderr_tail());
    CHECK(requeued);
    CHECK(eventually([&] { return t.space_connected(alice) == std::optional<bool>(false); }, 5s));
}

TEST_CASE("a blob chunk over 1 MiB closes the agent connection with 1009", "[agent-protocol][hostile]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string id = t.submit(alice, "make a big file");
    REQUIRE(agent->expect_request());
    auto uid = tether::uuid::parse(id);
    REQUIRE(uid);
    protocol::blob_header h;
    h.request_id = uid->bytes;
    h.blob = 1;
    h.flags = protocol::blob_flag_last;
    agent->send_binary(protocol::encode_blob_frame(h, std::string((1U << 20) + 1024, 'q')), 10s);
    CHECK(agent->wait_closed(10s) == std::optional<std::uint16_t>(1009));
    CHECK(t.broker.running());
}

TEST_CASE("prompts and results with quotes, markup and non-ASCII text arrive unchanged", "[agent-protocol]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string prompt = "h\xC3\xA9llo \"quoted\" \\ back\nslash\t<b>bold</b> \xF0\x9F\x98\x80";
    const std::string output = "<script>alert(\"x\")</script>\n\xE2\x9C\x93 \\u0000";
    const std::string id = t.submit(alice, prompt);
    auto req = agent->expect_request();
    REQUIRE(req);
    CHECK(req->frame.prompt == std::optional<std::string>(prompt));
    REQUIRE(agent->send_completed(id, output));
    REQUIRE(t.wait_status(alice, id, "completed", 5s));
    auto doc = t.request_status(alice, id);
    CHECK(doc.str("/result/output") == output);
    CHECK(doc.str("/prompt") == prompt);
}

TEST_CASE("the deadline the agent gets is the creation time plus the space timeout", "[agent-protocol][timeout]") {
    broker_setup s;
    s.with_bob = false;
    s.echo.timeout_s = 90;
    itest_broker t(s);
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string id = t.submit(alice, "when is it due");
    auto req = agent->expect_request();
    REQUIRE(req);
    auto doc = t.request_status(alice, id);
    auto created = tether::parse_rfc3339(doc.str("/created"));
    auto deadline = tether::parse_rfc3339(req->frame.deadline);
    INFO("created " << doc.str("/created") << " deadline " << req->frame.deadline);
    REQUIRE(created);
    REQUIRE(deadline);
    auto diff = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - *created);
    CHECK(diff.count() >= 89'000);
    CHECK(diff.count() <= 91'000);
}

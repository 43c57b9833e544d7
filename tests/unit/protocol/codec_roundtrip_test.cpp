// Every frame type survives encode -> parse unchanged, and the documented
// examples parse into the expected values.
#include "tether/protocol/codec.hpp"

#include <catch2/catch.hpp>

using namespace tether::protocol;

namespace {

template <typename T> T agent_roundtrip(const T& frame) {
    const std::string text = encode(frame);
    auto parsed = parse_agent_frame(text);
    INFO(text);
    REQUIRE(parsed.ok());
    REQUIRE(std::holds_alternative<T>(parsed.value()));
    return std::get<T>(parsed.value());
}

template <typename T> T broker_roundtrip(const T& frame) {
    const std::string text = encode(frame);
    auto parsed = parse_broker_frame(text);
    INFO(text);
    REQUIRE(parsed.ok());
    REQUIRE(std::holds_alternative<T>(parsed.value()));
    return std::get<T>(parsed.value());
}

} // namespace

TEST_CASE("a register frame with several spaces survives encode and parse", "[codec]") {
    register_frame f;
    f.agent = {"gpu-box-1", "0.1.0", "5f0c2a"};
    f.spaces.push_back({"MySpace", "tok-1", 4, {"tiny-lm", "other"}, model_info{"tiny-llama", 2048, true, "embeddings"}});
    f.spaces.push_back({"Second", "tok \"2\"", 1, {}, std::nullopt});
    CHECK(agent_roundtrip(f) == f);
}

TEST_CASE("a register frame with an unsupported protocol still parses so the broker can answer per space", "[codec]") {
    register_frame f;
    f.protocol = 7;
    f.agent.name = "a";
    f.spaces.push_back({"S", "t", 1, {}, std::nullopt});
    const auto back = agent_roundtrip(f);
    CHECK(back.protocol == 7);
    CHECK(back == f);
}

TEST_CASE("register defaults capacity to 1 and version and instance to empty", "[codec]") {
    auto r = parse_agent_frame(
        R"({"type":"register","protocol":1,"agent":{"name":"n"},"spaces":[{"space":"S","token":"t"}]})");
    REQUIRE(r.ok());
    const auto& f = std::get<register_frame>(r.value());
    CHECK(f.spaces.at(0).capacity == 1);
    CHECK(f.agent.version.empty());
    CHECK(f.agent.instance.empty());
    CHECK(f.spaces.at(0).models.empty());
}

TEST_CASE("an inference_result in each status survives encode and parse", "[codec]") {
    inference_result_frame processing;
    processing.request_id = "r1";
    processing.status = result_status::processing;
    CHECK(agent_roundtrip(processing) == processing);

    inference_result_frame streaming;
    streaming.request_id = "r2";
    streaming.status = result_status::streaming;
    streaming.seq = 18446744073709551615ULL;
    streaming.delta_text = "Hel\nlo \xF0\x9F\x98\x80";
    CHECK(agent_roundtrip(streaming) == streaming);

    inference_result_frame failed;
    failed.request_id = "r3";
    failed.status = result_status::failed;
    failed.error = {"model_error", "CUDA out of memory"};
    failed.inference_ms = 12.5;
    CHECK(agent_roundtrip(failed) == failed);
}

TEST_CASE("a completed result keeps the whole result object and reads output, confidence and files from it",
          "[codec]") {
    const auto r = parse_agent_frame(
        R"({"type":"inference_result","request_id":"r","status":"completed",)"
        R"("result":{ "output" : "Hello", "confidence":0.95, "extra":{"k":[1, 2.5e3, true, null]},)"
        R"("files":[{"blob":1,"name":"out.wav","mime":"audio/wav","size":4410}]},"metrics":{"inference_ms":812}})");
    REQUIRE(r.ok());
    const auto& f = std::get<inference_result_frame>(r.value());
    CHECK(f.status == result_status::completed);
    CHECK(f.output == "Hello");
    REQUIRE(f.confidence);
    CHECK(*f.confidence == 0.95);
    REQUIRE(f.files.size() == 1);
    CHECK(f.files[0] == file_ref{1, "", "out.wav", "audio/wav", 4410});
    CHECK(f.result_json == R"({"output":"Hello","confidence":0.95,"extra":{"k":[1,2.5e3,true,null]},)"
                           R"("files":[{"blob":1,"name":"out.wav","mime":"audio/wav","size":4410}]})");
    REQUIRE(f.inference_ms);
    CHECK(*f.inference_ms == 812.0);
    CHECK(agent_roundtrip(f) == f);
}

TEST_CASE("a completed result built from fields alone is encoded with those fields", "[codec]") {
    inference_result_frame f;
    f.request_id = "r";
    f.status = result_status::completed;
    f.output = "label: cat";
    f.confidence = 0.25;
    f.files.push_back({3, "", "x.png", "image/png", 99});
    const auto back = agent_roundtrip(f);
    CHECK(back.output == f.output);
    CHECK(back.confidence == f.confidence);
    CHECK(back.files == f.files);
    CHECK(
        back.result_json ==
        R"({"output":"label: cat","confidence":0.25,"files":[{"blob":3,"name":"x.png","mime":"image/png","size":99}]})");
}

TEST_CASE("a completed result whose result_json is not valid JSON falls back to the fields", "[codec]") {
    inference_result_frame f;
    f.request_id = "r";
    f.status = result_status::completed;
    f.output = "ok";
    f.result_json = "{not json";
    const auto back = agent_roundtrip(f);
    CHECK(back.output == "ok");
    CHECK(back.result_json == R"({"output":"ok","files":[]})");
}

TEST_CASE("drain survives encode and parse", "[codec]") {
    CHECK(encode(drain_frame{}) == R"({"type":"drain"})");
    CHECK(agent_roundtrip(drain_frame{}) == drain_frame{});
}

TEST_CASE("registered with accepted and refused spaces survives encode and parse", "[codec]") {
    registered_frame f;
    f.spaces.push_back({"MySpace", true, std::nullopt});
    f.spaces.push_back({"Other", false, error_info{"space_taken", "held by another agent"}});
    f.heartbeat_s = 20;
    CHECK(broker_roundtrip(f) == f);
}

TEST_CASE("an inference_request with prompt, params, messages and files survives encode and parse", "[codec]") {
    inference_request_frame f;
    f.request_id = "0b7c3c1e-8d4f-4a57-9a53-5f2d6f3b9e10";
    f.space = "MySpace";
    f.username = "alice";
    f.prompt = "Say \"hi\"\t\x01";
    f.params_json = R"({"max_tokens":64,"temperature":0.7,"stop":["\n"]})";
    f.messages_json = R"([{"role":"user","content":"hi"}])";
    f.files.push_back({1, "audio", "a.wav", "audio/wav", 12345});
    f.deadline = "2026-11-22T12:02:00Z";
    CHECK(broker_roundtrip(f) == f);
}

TEST_CASE("an inference_request without prompt or messages keeps them absent", "[codec]") {
    inference_request_frame f;
    f.request_id = "r";
    f.space = "S";
    f.deadline = "2026-11-22T12:02:00Z";
    const auto back = broker_roundtrip(f);
    CHECK_FALSE(back.prompt);
    CHECK_FALSE(back.messages_json);
    CHECK(back.params_json == "{}");
    CHECK(back == f);
}

TEST_CASE("an inference_request re-emits params compactly", "[codec]") {
    const auto r =
        parse_broker_frame(R"({"type":"inference_request","request_id":"r","space":"S","username":"u","deadline":"d",)"
                           R"("payload":{"prompt":"p","params":{ "a" : [ 1 , { "b" : "\u00e9\/" } ] }}})");
    REQUIRE(r.ok());
    const auto& f = std::get<inference_request_frame>(r.value());
    CHECK(f.params_json == "{\"a\":[1,{\"b\":\"\xC3\xA9/\"}]}");
    CHECK(f.prompt == std::optional<std::string>("p"));
}

TEST_CASE("an encoder never emits invalid carried JSON in an inference_request", "[codec]") {
    inference_request_frame f;
    f.request_id = "r";
    f.space = "S";
    f.deadline = "d";
    f.params_json = "[1,2]"; // not an object
    f.messages_json = "{oops";
    const auto back = broker_roundtrip(f);
    CHECK(back.params_json == "{}");
    CHECK_FALSE(back.messages_json);
}

TEST_CASE("cancel and error survive encode and parse", "[codec]") {
    const cancel_frame c{"r1", "timeout"};
    CHECK(broker_roundtrip(c) == c);
    const error_frame e{"bad_frame", "spaces[0].token: missing"};
    CHECK(broker_roundtrip(e) == e);
}

TEST_CASE("the variant encoders pick the right frame", "[codec]") {
    const agent_frame a = drain_frame{};
    CHECK(encode(a) == R"({"type":"drain"})");
    const broker_frame b = cancel_frame{"r", "user"};
    CHECK(encode(b) == R"({"type":"cancel","request_id":"r","reason":"user"})");
}

TEST_CASE("frames are parsed only by the side that receives them", "[codec]") {
    const auto r = parse_broker_frame(encode(drain_frame{}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == parse_errc::unknown_type);
    CHECK(r.error().type == "drain");
    const auto a = parse_agent_frame(encode(cancel_frame{"r", "user"}));
    REQUIRE_FALSE(a.ok());
    CHECK(a.error().type == "cancel");
}

TEST_CASE("to_string names every status and error code", "[codec]") {
    CHECK(to_string(result_status::processing) == "processing");
    CHECK(to_string(result_status::streaming) == "streaming");
    CHECK(to_string(result_status::completed) == "completed");
    CHECK(to_string(result_status::failed) == "failed");
    CHECK(to_string(parse_errc::too_large) == "too_large");
    CHECK(to_string(parse_errc::invalid_json) == "invalid_json");
    CHECK(to_string(parse_errc::not_an_object) == "not_an_object");
    CHECK(to_string(parse_errc::too_deep) == "too_deep");
    CHECK(to_string(parse_errc::missing_type) == "missing_type");
    CHECK(to_string(parse_errc::unknown_type) == "unknown_type");
    CHECK(to_string(parse_errc::missing_field) == "missing_field");
    CHECK(to_string(parse_errc::wrong_type) == "wrong_type");
    CHECK(to_string(parse_errc::bad_value) == "bad_value");
}

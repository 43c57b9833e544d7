// Hostile input: whatever arrives, parsing returns a frame or a parse_error
// with the right code; it never throws and never crashes.
#include "tether/protocol/codec.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace tether::protocol;
using namespace std::string_literals;

namespace {

parse_errc agent_error(std::string_view text, const parse_limits& limits = {}) {
    const auto r = parse_agent_frame(text, limits);
    INFO(std::string(text.substr(0, 200)));
    REQUIRE_FALSE(r.ok());
    return r.error().code;
}

parse_errc broker_error(std::string_view text, const parse_limits& limits = {}) {
    const auto r = parse_broker_frame(text, limits);
    INFO(std::string(text.substr(0, 200)));
    REQUIRE_FALSE(r.ok());
    return r.error().code;
}

const std::string good_register =
    R"({"type":"register","protocol":1,"agent":{"name":"n","version":"v","instance":"i"},)"
    R"("spaces":[{"space":"S","token":"t","capacity":2,"models":["m"]}]})";

const std::string good_request =
    R"({"type":"inference_request","request_id":"r","space":"S","username":"u","deadline":"d",)"
    R"("payload":{"prompt":"p","params":{},"files":[{"blob":1,"name":"a","mime":"m","size":3}]}})";

// Replaces the first occurrence of `from` in `text` with `to`.
std::string with(std::string text, std::string_view from, std::string_view to) {
    const auto pos = text.find(from);
    REQUIRE(pos != std::string::npos);
    text.replace(pos, from.size(), to);
    return text;
}

} // namespace

TEST_CASE("the fixtures used below are themselves valid", "[codec][hostile]") {
    CHECK(parse_agent_frame(good_register).ok());
    CHECK(parse_broker_frame(good_request).ok());
}

TEST_CASE("every truncation of a valid frame is refused as invalid JSON", "[codec][hostile]") {
    for (std::size_t n = 1; n < good_register.size(); ++n) {
        const auto code = agent_error(std::string_view(good_register).substr(0, n));
        CHECK(code == parse_errc::invalid_json);
    }
}

TEST_CASE("empty, blank and NUL input is invalid JSON", "[codec][hostile]") {
    CHECK(agent_error("") == parse_errc::invalid_json);
    CHECK(agent_error("   \n\t ") == parse_errc::invalid_json);
    CHECK(agent_error("\0"s) == parse_errc::invalid_json);
    CHECK(agent_error("{\"type\":\"drain\"}\0"s) == parse_errc::invalid_json);
    CHECK(agent_error("{\"type\":\"dr\0ain\"}"s) == parse_errc::invalid_json);
}

TEST_CASE("a top level that is not an object is refused", "[codec][hostile]") {
    CHECK(agent_error(R"([{"type":"drain"}])") == parse_errc::not_an_object);
    CHECK(agent_error(R"("drain")") == parse_errc::not_an_object);
    CHECK(agent_error("42") == parse_errc::not_an_object);
    CHECK(broker_error("null") == parse_errc::not_an_object);
}

TEST_CASE("trailing text after the frame is refused", "[codec][hostile]") {
    CHECK(agent_error(R"({"type":"drain"}})") == parse_errc::invalid_json);
    CHECK(agent_error(R"({"type":"drain"} {"type":"drain"})") == parse_errc::invalid_json);
    CHECK(agent_error(R"({"type":"drain"} x)") == parse_errc::invalid_json);
    CHECK(parse_agent_frame(" {\"type\":\"drain\"} \n").ok());
}

TEST_CASE("malformed JSON anywhere, even in ignored fields, is refused", "[codec][hostile]") {
    CHECK(agent_error(R"({"type":"drain","x":[1,]})") == parse_errc::invalid_json);
    CHECK(agent_error(R"({"type":"drain","x":01})") == parse_errc::invalid_json);
    CHECK(agent_error(R"({"type":"drain","x":nul})") == parse_errc::invalid_json);
    CHECK(agent_error(R"({"type":"drain","x":tru})") == parse_errc::invalid_json);
    CHECK(agent_error(R"({"type":"drain","x":"\x"})") == parse_errc::invalid_json);
    CHECK(agent_error(R"({"type":"drain","x":"\ud800"})") == parse_errc::invalid_json);
    CHECK(agent_error(R"({"type":"drain",})") == parse_errc::invalid_json);
    CHECK(agent_error(R"({"type":"drain" "x":1})") == parse_errc::invalid_json);
    CHECK(agent_error(R"({'type':'drain'})") == parse_errc::invalid_json);
    CHECK(agent_error("{\"type\":\"drain\",\"x\":\"a\nb\"}") == parse_errc::invalid_json);
}

TEST_CASE("a missing or non-string type is missing_type", "[codec][hostile]") {
    CHECK(agent_error(R"({})") == parse_errc::missing_type);
    CHECK(agent_error(R"({"typ":"drain"})") == parse_errc::missing_type);
    CHECK(agent_error(R"({"type":1})") == parse_errc::missing_type);
    CHECK(agent_error(R"({"type":null})") == parse_errc::missing_type);
    CHECK(broker_error(R"({"type":["cancel"]})") == parse_errc::missing_type);
}

TEST_CASE("an unknown type is reported with the type that was seen", "[codec][hostile]") {
    const auto r = parse_agent_frame(R"({"type":"teleport","x":1})");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == parse_errc::unknown_type);
    CHECK(r.error().type == "teleport");
    const auto b = parse_broker_frame(R"({"type":"register"})");
    REQUIRE_FALSE(b.ok());
    CHECK(b.error().code == parse_errc::unknown_type);
    CHECK(b.error().type == "register");
}

TEST_CASE("unknown fields are ignored at every level", "[codec][hostile]") {
    const auto r = parse_agent_frame(
        R"({"future":{"a":[1,2,{"b":null}]},"type":"register","protocol":1,"agent":{"name":"n","os":"linux"},)"
        R"("spaces":[{"space":"S","token":"t","gpu":"h100"}],"z":true})");
    REQUIRE(r.ok());
    CHECK(std::get<register_frame>(r.value()).spaces.at(0).space == "S");
}

TEST_CASE("register refuses missing required fields and names them", "[codec][hostile]") {
    const auto r = parse_agent_frame(with(good_register, R"("token":"t",)", ""));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == parse_errc::missing_field);
    CHECK(r.error().message == "spaces[0].token: missing");
    CHECK(agent_error(with(good_register, R"("protocol":1,)", "")) == parse_errc::missing_field);
    CHECK(agent_error(with(good_register, R"("name":"n",)", "")) == parse_errc::missing_field);
    CHECK(agent_error(with(good_register, R"("space":"S",)", "")) == parse_errc::missing_field);
    CHECK(agent_error(R"({"type":"register","protocol":1,"agent":{"name":"n"}})") == parse_errc::missing_field);
}

TEST_CASE("register refuses wrong JSON types field by field", "[codec][hostile]") {
    CHECK(agent_error(with(good_register, R"("protocol":1)", R"("protocol":"1")")) == parse_errc::wrong_type);
    CHECK(agent_error(with(good_register, R"("agent":{"name":"n","version":"v","instance":"i"})", R"("agent":"n")")) ==
          parse_errc::wrong_type);
    CHECK(agent_error(with(good_register, R"("name":"n")", R"("name":5)")) == parse_errc::wrong_type);
    CHECK(agent_error(with(good_register, R"("version":"v")", R"("version":[])")) == parse_errc::wrong_type);
    CHECK(agent_error(with(good_register, R"("instance":"i")", R"("instance":{})")) == parse_errc::wrong_type);
    CHECK(agent_error(with(good_register, R"("token":"t")", R"("token":true)")) == parse_errc::wrong_type);
    CHECK(agent_error(with(good_register, R"("capacity":2)", R"("capacity":"2")")) == parse_errc::wrong_type);
    CHECK(agent_error(with(good_register, R"("models":["m"])", R"("models":"m")")) == parse_errc::wrong_type);
    CHECK(agent_error(with(good_register, R"("models":["m"])", R"("models":[1])")) == parse_errc::wrong_type);
    CHECK(agent_error(with(good_register, R"("spaces":[)", R"("spaces":[1,)")) == parse_errc::wrong_type);
    CHECK(agent_error(R"({"type":"register","protocol":1,"agent":{"name":"n"},"spaces":{}})") ==
          parse_errc::wrong_type);
}

TEST_CASE("register refuses unacceptable values", "[codec][hostile]") {
    CHECK(agent_error(with(good_register, R"("capacity":2)", R"("capacity":0)")) == parse_errc::bad_value);
    CHECK(agent_error(with(good_register, R"("capacity":2)", R"("capacity":1025)")) == parse_errc::bad_value);
    CHECK(agent_error(with(good_register, R"("capacity":2)", R"("capacity":-1)")) == parse_errc::bad_value);
    CHECK(agent_error(with(good_register, R"("capacity":2)", R"("capacity":1.5)")) == parse_errc::bad_value);
    CHECK(agent_error(with(good_register, R"("protocol":1)", R"("protocol":1.5)")) == parse_errc::bad_value);
    CHECK(agent_error(R"({"type":"register","protocol":1,"agent":{"name":"n"},"spaces":[]})") == parse_errc::bad_value);
    CHECK(parse_agent_frame(with(good_register, R"("capacity":2)", R"("capacity":1024)")).ok());
}

TEST_CASE("huge numbers are refused where an integer is needed, never wrapped", "[codec][hostile]") {
    CHECK(agent_error(with(good_register, R"("capacity":2)", R"("capacity":18446744073709551617)")) ==
          parse_errc::bad_value);
    CHECK(agent_error(with(good_register, R"("capacity":2)", R"("capacity":4294967297)")) == parse_errc::bad_value);
    CHECK(agent_error(with(good_register, R"("capacity":2)", R"("capacity":1e400)")) == parse_errc::bad_value);
    CHECK(agent_error(with(good_register, R"("protocol":1)", R"("protocol":4294967297)")) == parse_errc::bad_value);
    CHECK(
        agent_error(
            R"({"type":"inference_result","request_id":"r","status":"streaming","seq":18446744073709551616,"delta":{"text":""}})") ==
        parse_errc::bad_value);
    CHECK(broker_error(with(good_request, R"("blob":1)", R"("blob":4294967296)")) == parse_errc::bad_value);
    CHECK(broker_error(with(good_request, R"("blob":1)", R"("blob":18446744073709551617)")) == parse_errc::bad_value);
    CHECK(agent_error(
              R"({"type":"inference_result","request_id":"r","status":"completed","result":{"confidence":1e400}})") ==
          parse_errc::bad_value);
}

TEST_CASE("a huge number in carried JSON passes through unchanged", "[codec][hostile]") {
    const auto r =
        parse_broker_frame(with(good_request, R"("params":{})", R"("params":{"n":1e400,"m":18446744073709551617})"));
    REQUIRE(r.ok());
    CHECK(std::get<inference_request_frame>(r.value()).params_json == R"({"n":1e400,"m":18446744073709551617})");
}

TEST_CASE("inference_result refuses bad statuses and incomplete bodies", "[codec][hostile]") {
    const std::string head = R"({"type":"inference_result","request_id":"r",)";
    CHECK(agent_error(head + R"("status":"done"})") == parse_errc::bad_value);
    CHECK(agent_error(head + R"("status":3})") == parse_errc::wrong_type);
    CHECK(agent_error(R"({"type":"inference_result","status":"processing"})") == parse_errc::missing_field);
    CHECK(agent_error(head + R"("status":"streaming","delta":{"text":"x"}})") == parse_errc::missing_field);
    CHECK(agent_error(head + R"("status":"streaming","seq":1})") == parse_errc::missing_field);
    CHECK(agent_error(head + R"("status":"streaming","seq":1,"delta":{}})") == parse_errc::missing_field);
    CHECK(agent_error(head + R"("status":"streaming","seq":"1","delta":{"text":"x"}})") == parse_errc::wrong_type);
    CHECK(agent_error(head + R"("status":"completed"})") == parse_errc::missing_field);
    CHECK(agent_error(head + R"("status":"completed","result":"Hello"})") == parse_errc::wrong_type);
    CHECK(agent_error(head + R"("status":"completed","result":{"output":5}})") == parse_errc::wrong_type);
    CHECK(agent_error(head + R"("status":"completed","result":{"files":[{"name":"x"}]}})") ==
          parse_errc::missing_field);
    CHECK(agent_error(head + R"("status":"failed"})") == parse_errc::missing_field);
    CHECK(agent_error(head + R"("status":"failed","error":{"code":"x"}})") == parse_errc::missing_field);
    CHECK(agent_error(head + R"("status":"processing","metrics":{"inference_ms":"fast"}})") == parse_errc::wrong_type);
}

TEST_CASE("broker frames refuse missing and mistyped fields", "[codec][hostile]") {
    CHECK(broker_error(R"({"type":"registered"})") == parse_errc::missing_field);
    CHECK(broker_error(R"({"type":"registered","spaces":[{"space":"S"}]})") == parse_errc::missing_field);
    CHECK(broker_error(R"({"type":"registered","spaces":[{"space":"S","ok":"yes"}]})") == parse_errc::wrong_type);
    CHECK(broker_error(R"({"type":"registered","spaces":[],"heartbeat_s":0})") == parse_errc::bad_value);
    CHECK(broker_error(with(good_request, R"("deadline":"d",)", "")) == parse_errc::missing_field);
    CHECK(broker_error(with(good_request, R"("params":{})", R"("params":[])")) == parse_errc::wrong_type);
    CHECK(broker_error(with(good_request, R"("prompt":"p")", R"("prompt":["p"])")) == parse_errc::wrong_type);
    CHECK(broker_error(with(good_request, R"("params":{})", R"("messages":{})")) == parse_errc::wrong_type);
    CHECK(broker_error(with(good_request, R"("size":3)", R"("size":-3)")) == parse_errc::bad_value);
    CHECK(broker_error(R"({"type":"cancel"})") == parse_errc::missing_field);
    CHECK(broker_error(R"({"type":"error","message":"m"})") == parse_errc::missing_field);
}

TEST_CASE("null in an optional field means absent, in a required one it is refused", "[codec][hostile]") {
    const auto r = parse_broker_frame(with(good_request, R"("prompt":"p")", R"("prompt":null)"));
    REQUIRE(r.ok());
    CHECK_FALSE(std::get<inference_request_frame>(r.value()).prompt);
    CHECK(broker_error(with(good_request, R"("space":"S")", R"("space":null)")) == parse_errc::wrong_type);
}

TEST_CASE("invalid UTF-8 in strings and keys is refused", "[codec][hostile]") {
    CHECK(agent_error("{\"type\":\"drain\",\"x\":\"\xC3\x28\"}") == parse_errc::invalid_json);
    CHECK(agent_error("{\"type\":\"drain\",\"\xFF\xFE\":1}") == parse_errc::invalid_json);
    CHECK(agent_error("{\"type\":\"drain\",\"x\":\"\xED\xA0\x80\"}") == parse_errc::invalid_json); // surrogate
    CHECK(agent_error("{\"type\":\"drain\",\"x\":\"\xC0\xAF\"}") == parse_errc::invalid_json);     // overlong
    CHECK(agent_error("{\"type\":\"drain\",\"x\":\"\xF4\x90\x80\x80\"}") == parse_errc::invalid_json);
    CHECK(agent_error("{\"type\":\"dr\xE2\x82\"}") == parse_errc::invalid_json);
    CHECK(parse_agent_frame("{\"type\":\"drain\",\"x\":\"\xE2\x82\xAC \xF0\x9F\x98\x80\"}").ok());
}

TEST_CASE("deep nesting is refused as too_deep without exhausting the stack", "[codec][hostile]") {
    const std::string deep_array = R"({"type":"drain","x":)" + std::string(10000, '[') + std::string(10000, ']') + "}";
    CHECK(agent_error(deep_array) == parse_errc::too_deep);
    const std::string unclosed = R"({"type":"drain","x":)" + std::string(10000, '[');
    const auto code = agent_error(unclosed);
    CHECK((code == parse_errc::too_deep || code == parse_errc::invalid_json));
    std::string deep_object = R"({"type":"drain","x":)";
    for (int i = 0; i < 5000; ++i)
        deep_object += R"({"a":)";
    deep_object += "1" + std::string(5000, '}') + "}";
    CHECK(agent_error(deep_object) == parse_errc::too_deep);
}

TEST_CASE("nesting up to max_depth is accepted and one more level is refused", "[codec][hostile]") {
    parse_limits limits;
    limits.max_depth = 4;
    // The frame object is level 1, so three more levels fit.
    CHECK(parse_agent_frame(R"({"type":"drain","x":[[[1]]]})", limits).ok());
    CHECK(agent_error(R"({"type":"drain","x":[[[[1]]]]})", limits) == parse_errc::too_deep);
}

TEST_CASE("a frame over the size limit is too_large before any parsing", "[codec][hostile]") {
    const std::string big = R"({"type":"drain","pad":")" + std::string(2 * 1024 * 1024, 'a') + "\"}";
    CHECK(agent_error(big) == parse_errc::too_large);
    parse_limits small;
    small.max_frame_bytes = 10;
    CHECK(agent_error(R"({"type":"drain"})", small) == parse_errc::too_large);
    // Even garbage: the size check comes first.
    CHECK(agent_error(std::string(2 * 1024 * 1024, '\xFF')) == parse_errc::too_large);
}

TEST_CASE("a large string under the limit is fine", "[codec][hostile]") {
    const std::string text(900 * 1024, 'x');
    const std::string frame =
        R"({"type":"inference_result","request_id":"r","status":"streaming","seq":1,"delta":{"text":")" + text + "\"}}";
    const auto r = parse_agent_frame(frame);
    REQUIRE(r.ok());
    CHECK(std::get<inference_result_frame>(r.value()).delta_text == text);
}

TEST_CASE("strings and keys over max_string_bytes are too_large", "[codec][hostile]") {
    parse_limits limits;
    limits.max_string_bytes = 8;
    CHECK(agent_error(R"({"type":"drain","x":"123456789"})", limits) == parse_errc::too_large);
    CHECK(agent_error(R"({"type":"drain","123456789":1})", limits) == parse_errc::too_large);
    CHECK(parse_agent_frame(R"({"type":"drain","x":"12345678"})", limits).ok());
}

TEST_CASE("arrays over their count limits are too_large", "[codec][hostile]") {
    parse_limits limits;
    limits.max_spaces = 2;
    limits.max_files = 1;
    CHECK(agent_error(R"({"type":"register","protocol":1,"agent":{"name":"n"},"spaces":[)"
                      R"({"space":"a","token":"t"},{"space":"b","token":"t"},{"space":"c","token":"t"}]})",
                      limits) == parse_errc::too_large);
    CHECK(broker_error(with(good_request, R"("files":[)", R"("files":[{"blob":0},)"), limits) == parse_errc::too_large);
}

TEST_CASE("canonical_json validates and compacts any JSON value", "[codec][canonical]") {
    CHECK(canonical_json(" { \"a\" : [ 1 , -2.5e-3 , true , false , null , \"\\u0041\\n\" ] } ").value() ==
          R"({"a":[1,-2.5e-3,true,false,null,"A\n"]})");
    CHECK(canonical_json("  \"x\"  ").value() == R"("x")");
    CHECK(canonical_json("0").value() == "0");
    CHECK(canonical_json("[]").value() == "[]");
    CHECK(canonical_json(R"({"\u00e9":"\ud83d\ude00"})").value() == "{\"\xC3\xA9\":\"\xF0\x9F\x98\x80\"}");
    CHECK(canonical_json(R"("\u0000")").value() == R"("\u0000")");
}

TEST_CASE("canonical_json refuses what is not exactly one JSON value", "[codec][canonical]") {
    for (const char* bad : {"",   " ", "1 2", "\"a\" x", "null x", "nullx", "[1] 2",    "{",   "}",   "[1,]",
                            "01", "-", "1.",  ".5",      "+1",     "NaN",   "Infinity", "[x]", "'a'", "\"\\ud800\""}) {
        INFO(bad);
        const auto r = canonical_json(bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == parse_errc::invalid_json);
    }
}

TEST_CASE("canonical_json output parses back to itself", "[codec][canonical]") {
    const std::string inputs[] = {R"({"a":{"b":[1,2,{"c":"\t\"\\"}]},"d":1E+2})", "[[[]]]", R"("\u001f\u007f")"};
    for (const auto& in : inputs) {
        const auto once = canonical_json(in);
        REQUIRE(once.ok());
        const auto twice = canonical_json(once.value());
        REQUIRE(twice.ok());
        CHECK(twice.value() == once.value());
    }
}

TEST_CASE("canonical_json enforces depth and size limits", "[codec][canonical]") {
    CHECK(canonical_json(std::string(10000, '[') + std::string(10000, ']')).error().code == parse_errc::too_deep);
    parse_limits limits;
    limits.max_frame_bytes = 4;
    CHECK(canonical_json("[1,2]", limits).error().code == parse_errc::too_large);
}

// libFuzzer target: every input goes to both frame parsers, canonical_json,
// the JSON string writer and the blob header parser. Nothing may crash, and
// whatever parses must survive encode -> parse unchanged (abort otherwise).
#include "tether/protocol/blob_header.hpp"
#include "tether/protocol/codec.hpp"
#include "tether/protocol/json_writer.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace tether::protocol;

namespace {

[[noreturn]] void fail(const char* what, std::string_view detail) {
    std::fprintf(stderr, "protocol_fuzz: %s\n%.*s\n", what, static_cast<int>(std::min<std::size_t>(detail.size(), 2000)), detail.data());
    std::abort();
}

template <typename Parse> void check_frame_roundtrip(std::string_view text, Parse parse, const char* side) {
    const auto first = parse(text);
    if (!first.ok()) {
        if (first.error().message.empty()) fail("parse error without a message", text);
        return;
    }
    const std::string encoded = encode(first.value());
    const auto second = parse(encoded);
    if (!second.ok()) fail(side, "re-parse of an encoded frame failed: " + second.error().message + "\n" + encoded);
    if (!(second.value() == first.value())) fail(side, "frame changed in encode -> parse:\n" + encoded);
}

void check_canonical(std::string_view text) {
    const auto first = canonical_json(text);
    if (!first.ok()) return;
    const auto second = canonical_json(first.value());
    if (!second.ok()) fail("canonical_json output is not valid JSON", first.value());
    if (second.value() != first.value()) fail("canonical_json is not idempotent", first.value());
}

void check_writer(std::string_view bytes) {
    // Whatever bytes go in, the writer's output is a valid JSON string.
    const std::string quoted = json_string(bytes);
    if (!canonical_json(quoted).ok()) fail("json_string produced invalid JSON", quoted);
}

void check_blob(std::string_view frame) {
    const auto header = parse_blob_header(frame);
    if (frame.size() < blob_header_size) {
        if (header) fail("blob header parsed from a short frame", frame);
        return;
    }
    if (!header) fail("blob header not parsed from a long enough frame", frame);
    if (encode_blob_frame(*header, frame.substr(blob_header_size)) != frame)
        fail("blob frame changed in parse -> encode", frame);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    check_frame_roundtrip(
        text, [](std::string_view t) { return parse_agent_frame(t); }, "agent frame");
    check_frame_roundtrip(
        text, [](std::string_view t) { return parse_broker_frame(t); }, "broker frame");
    check_canonical(text);
    check_writer(text);
    check_blob(text);
    return 0;
}

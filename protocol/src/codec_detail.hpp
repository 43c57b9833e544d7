#pragma once
// Internal to tether_protocol: pieces both directions' frames share (file
// references, JSON carried through opaquely). Not part of the public API.

#include "field_reader.hpp"
#include "tether/protocol/json_writer.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace tether::protocol::detail {

maybe_error read_file_ref(simdjson::ondemand::value& v, const std::string& path, const parse_limits& limits,
                          file_ref& out);
void write_file_ref(json_writer& w, const file_ref& file);

// `text` re-emitted compactly when it is valid JSON whose top level opens with
// `opening` ('{' or '['); nullopt otherwise. Encoders use it so that carried
// JSON from elsewhere can never make a frame invalid.
std::optional<std::string> carried_json(std::string_view text, char opening);

} // namespace tether::protocol::detail

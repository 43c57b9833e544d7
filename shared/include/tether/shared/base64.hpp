#pragma once
// Standard base64 (RFC 4648, with padding). Decoding rejects anything else.

#include <optional>
#include <string>
#include <string_view>

namespace tether {

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

} // namespace tether

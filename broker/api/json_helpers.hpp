#pragma once
// Shapes the HTTP API's JSON: responses, the error shape
// {"error":{"code","message"}}, and the public view of a request and a space.
// Pure formatting and parsing; no I/O, no core access.

#include "core/core_types.hpp"
#include "core/request.hpp"
#include "net/http_types.hpp"

#include "tether/protocol/json_writer.hpp"

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

namespace tether::broker::api {

namespace http = boost::beast::http;
using net::string_response;

string_response json_response(http::status status, std::string body);
string_response error_response(http::status status, std::string_view code, std::string_view message);

// The request as GET /api/requests/{id} shows it.
void write_request(protocol::json_writer& w, const request_record& r, std::optional<std::size_t> position);
std::string request_json(const request_record& r, std::optional<std::size_t> position);

void write_space(protocol::json_writer& w, const space_view& s);

// The event a finished request's watchers get when the core no longer keeps
// its log: {"result":…} or {"error":…}, as the core would have published it.
std::string terminal_event_json(const request_record& r);

// Parses a JSON object body; nullopt and `error` set otherwise.
std::optional<simdjson::dom::object> parse_object(simdjson::dom::parser& parser, std::string_view body,
                                                  std::string& error);
// Field helpers: nullopt when absent; `bad` set when present with the wrong type.
std::optional<std::string> string_field(simdjson::dom::object o, std::string_view key, bool& bad);
std::optional<std::int64_t> int_field(simdjson::dom::object o, std::string_view key, bool& bad);
std::optional<bool> bool_field(simdjson::dom::object o, std::string_view key, bool& bad);

} // namespace tether::broker::api

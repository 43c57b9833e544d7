#pragma once
// Parse (simdjson on-demand) and encode (fmt) the JSON text frames of the
// agent protocol. Parsing never throws and never crashes on any input: it
// returns the frame or a parse_error that says what was wrong and where.
// Unknown fields are ignored; an unknown "type" is an error of its own.
// Field names are matched as written: a key spelled with \u escapes is not recognised.

#include "tether/protocol/frames.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tether::protocol {

enum class parse_errc {
    too_large,     // frame, a string in it, or a counted array (spaces, files) over the limits given
    invalid_json,  // not well-formed JSON, or invalid UTF-8
    not_an_object, // top level is not an object
    too_deep,      // nesting deeper than max_depth
    missing_type,  // no "type" string
    unknown_type,  // a "type" this side does not accept
    missing_field, // a required field is absent
    wrong_type,    // a field has the wrong JSON type
    bad_value,     // right type, unacceptable value (e.g. capacity 0, an unknown status, 2^64 as a count)
};

std::string_view to_string(parse_errc code);

struct parse_error {
    parse_errc code;
    std::string message; // names the field, e.g. "spaces[0].token: missing"
    // For unknown_type, the type that was seen (so the caller can answer with an error frame).
    std::string type;
};

// A frame or the reason it was refused.
template <typename T> class parse_result {
  public:
    parse_result(T value) : v_(std::move(value)) {}
    parse_result(parse_error err) : v_(std::move(err)) {}
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    const parse_error& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, parse_error> v_;
};

struct parse_limits {
    std::size_t max_frame_bytes = default_max_text_frame;
    std::size_t max_depth = 32;
    std::size_t max_spaces = 256; // entries in register.spaces
    std::size_t max_files = 64;   // entries in a files array
    std::size_t max_string_bytes = default_max_text_frame;
};

// Frames the broker receives from an agent. A register frame whose
// "protocol" is an integer other than `version` still parses, so that the
// broker can answer bad_protocol for each space it names.
parse_result<agent_frame> parse_agent_frame(std::string_view text, const parse_limits& limits = {});
// Frames the agent receives from the broker.
parse_result<broker_frame> parse_broker_frame(std::string_view text, const parse_limits& limits = {});

// Fully validates `text` as JSON (UTF-8, depth) and returns it re-emitted
// compactly; used for values carried through opaquely (params, results).
parse_result<std::string> canonical_json(std::string_view text, const parse_limits& limits = {});

// Carried JSON (inference_result_frame::result_json, params_json,
// messages_json) is re-validated on the way out: invalid text is never sent;
// a bad result_json is replaced by an object built from output, confidence
// and files, bad params by {}, and bad messages are left out.
std::string encode(const register_frame& f);
std::string encode(const inference_result_frame& f);
std::string encode(const drain_frame& f);
std::string encode(const registered_frame& f);
std::string encode(const inference_request_frame& f);
std::string encode(const cancel_frame& f);
std::string encode(const error_frame& f);
std::string encode(const agent_frame& f);
std::string encode(const broker_frame& f);

std::string_view to_string(result_status s);

} // namespace tether::protocol

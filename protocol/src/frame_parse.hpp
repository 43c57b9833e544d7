#pragma once
// Internal to tether_protocol: the steps every text frame shares (size limit,
// full validation, top-level object, its "type"), then a per-type reader.
// Catches everything, so no exception from simdjson or allocation escapes.

#include "field_reader.hpp"

#include <exception>
#include <new>

namespace tether::protocol::detail {

// f(std::string_view type, field_reader& top, Frame& out) -> maybe_error.
template <typename Frame, typename F>
parse_result<Frame> parse_frame(std::string_view text, const parse_limits& limits, F&& f) {
    try {
        if (text.size() > limits.max_frame_bytes)
            return make_error(parse_errc::too_large, fmt::format("frame of {} bytes is over the limit of {}",
                                                                 text.size(), limits.max_frame_bytes));
        const simdjson::padded_string padded(text);
        if (auto err = validate_document(padded, limits, true, nullptr)) return *err;

        simdjson::ondemand::parser parser;
        if (auto err = prepare_parser(parser, padded, limits)) return *err;
        simdjson::ondemand::document doc;
        if (auto e = parser.iterate(padded).get(doc)) return from_simdjson(e, "");
        simdjson::ondemand::object top;
        if (auto e = doc.get_object().get(top)) return from_simdjson(e, "");
        field_reader reader(top, "", limits);

        std::string type;
        if (auto err = reader.string("type", presence::required, type)) {
            if (err->code == parse_errc::missing_field || err->code == parse_errc::wrong_type)
                return make_error(parse_errc::missing_type,
                                  "type: " + std::string(to_string(err->code)) + ", a frame needs a \"type\" string");
            return *err;
        }
        Frame frame;
        if (auto err = f(std::string_view(type), reader, frame)) {
            if (err->code == parse_errc::unknown_type) err->type = type;
            return *err;
        }
        return frame;
    } catch (const std::bad_alloc&) {
        return make_error(parse_errc::too_large, "out of memory while parsing");
    } catch (const std::exception& e) {
        return make_error(parse_errc::invalid_json, std::string("parse failed: ") + e.what());
    } catch (...) {
        return make_error(parse_errc::invalid_json, "parse failed");
    }
}

} // namespace tether::protocol::detail

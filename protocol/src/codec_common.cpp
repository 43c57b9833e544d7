#include "codec_detail.hpp"
#include "tether/protocol/codec.hpp"

#include <limits>
#include <new>

namespace tether::protocol {

std::string_view to_string(parse_errc code) {
    switch (code) {
    case parse_errc::too_large:
        return "too_large";
    case parse_errc::invalid_json:
        return "invalid_json";
    case parse_errc::not_an_object:
        return "not_an_object";
    case parse_errc::too_deep:
        return "too_deep";
    case parse_errc::missing_type:
        return "missing_type";
    case parse_errc::unknown_type:
        return "unknown_type";
    case parse_errc::missing_field:
        return "missing_field";
    case parse_errc::wrong_type:
        return "wrong_type";
    case parse_errc::bad_value:
        return "bad_value";
    }
    return "unknown";
}

std::string_view to_string(result_status s) {
    switch (s) {
    case result_status::processing:
        return "processing";
    case result_status::streaming:
        return "streaming";
    case result_status::completed:
        return "completed";
    case result_status::failed:
        return "failed";
    }
    return "unknown";
}

parse_result<std::string> canonical_json(std::string_view text, const parse_limits& limits) {
    try {
        if (text.size() > limits.max_frame_bytes)
            return detail::make_error(parse_errc::too_large, fmt::format("{} bytes is over the limit of {}",
                                                                         text.size(), limits.max_frame_bytes));
        const simdjson::padded_string padded(text);
        std::string out;
        out.reserve(text.size());
        if (auto err = detail::validate_document(padded, limits, false, &out)) return *err;
        return out;
    } catch (const std::bad_alloc&) {
        return detail::make_error(parse_errc::too_large, "out of memory while parsing");
    } catch (const std::exception& e) {
        return detail::make_error(parse_errc::invalid_json, std::string("parse failed: ") + e.what());
    }
}

namespace detail {

maybe_error read_file_ref(simdjson::ondemand::value& v, const std::string& path, const parse_limits& limits,
                          file_ref& out) {
    return read_object(v, path, limits, [&](field_reader& r) -> maybe_error {
        if (auto err = r.uint32("blob", presence::required, 0, std::numeric_limits<std::uint32_t>::max(), out.blob))
            return err;
        if (auto err = r.string("field", presence::optional, out.field)) return err;
        if (auto err = r.string("name", presence::optional, out.name)) return err;
        if (auto err = r.string("mime", presence::optional, out.mime)) return err;
        return r.uint("size", presence::optional, 0, std::numeric_limits<std::uint64_t>::max(), out.size);
    });
}

void write_file_ref(json_writer& w, const file_ref& file) {
    w.begin_object().key("blob").value(std::uint64_t{file.blob});
    if (!file.field.empty()) w.key("field").value(file.field);
    w.key("name").value(file.name).key("mime").value(file.mime).key("size").value(file.size).end_object();
}

std::optional<std::string> carried_json(std::string_view text, char opening) {
    parse_limits generous;
    generous.max_frame_bytes = std::numeric_limits<std::size_t>::max();
    generous.max_string_bytes = std::numeric_limits<std::size_t>::max();
    generous.max_depth = 1024;
    auto canonical = canonical_json(text, generous);
    if (!canonical || canonical.value().empty() || canonical.value().front() != opening) return std::nullopt;
    return std::move(canonical.value());
}

} // namespace detail
} // namespace tether::protocol

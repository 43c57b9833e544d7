#pragma once
// Incremental multipart/form-data parser (RFC 7578): bytes go in as they
// arrive, parts come out through callbacks, so an upload is never held whole
// in memory. Pure: no I/O, no sockets; every size it keeps is bounded.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tether::broker::net {

struct multipart_part_header {
    std::string name;                    // form field name
    std::optional<std::string> filename; // present for file fields
    std::string content_type;            // empty when not given
};

class multipart_parser {
public:
    struct callbacks {
        // Return false to abort parsing (the handler sets its own error).
        std::function<bool(const multipart_part_header&)> on_part_begin;
        std::function<bool(std::string_view)> on_part_data;
        std::function<bool()> on_part_end;
    };

    // `boundary` is the value of the boundary= parameter (without "--").
    multipart_parser(std::string boundary, callbacks cb);

    // Feeds the next bytes. Returns false on malformed input or when a
    // callback aborted; error() says what.
    bool feed(std::string_view bytes);
    // True once the closing boundary has been seen.
    bool done() const { return state_ == state::done; }
    const std::string& error() const { return error_; }

    // Extracts the boundary from a Content-Type value; nullopt unless it is
    // multipart/form-data with a usable boundary (1..70 chars).
    static std::optional<std::string> boundary_of(std::string_view content_type);

private:
    enum class state { preamble, after_boundary, headers, body, done, failed };
    bool fail(std::string message);
    bool parse_headers(std::string_view block);
    bool step();

    std::string delimiter_; // "\r\n--" + boundary
    callbacks cb_;
    state state_ = state::preamble;
    std::string buf_; // unconsumed bytes; bounded by header limit or delimiter length
    std::string error_;
    multipart_part_header part_;
    std::size_t parts_ = 0;
};

} // namespace tether::broker::net

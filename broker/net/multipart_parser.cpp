#include "net/multipart_parser.hpp"

#include <algorithm>
#include <cctype>

namespace tether::broker::net {
namespace {

constexpr std::size_t max_header_block = 16 * 1024;
constexpr std::size_t max_parts = 64;

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Splits `value` ("form-data; name=\"a\"; filename=\"b\"") into its first
// token and key=value parameters, calling `on_param` for each.
template <typename F>
std::string_view split_params(std::string_view value, F&& on_param) {
    auto semi = value.find(';');
    std::string_view first = trim(value.substr(0, semi));
    while (semi != std::string_view::npos) {
        value.remove_prefix(semi + 1);
        value = trim(value);
        auto eq = value.find('=');
        if (eq == std::string_view::npos) {
            semi = value.find(';');
            continue;
        }
        std::string key(trim(value.substr(0, eq)));
        value.remove_prefix(eq + 1);
        value = trim(value);
        std::string val;
        if (!value.empty() && value.front() == '"') {
            std::size_t i = 1;
            for (; i < value.size() && value[i] != '"'; ++i) {
                if (value[i] == '\\' && i + 1 < value.size()) ++i;
                val.push_back(value[i]);
            }
            value.remove_prefix(std::min(value.size(), i + 1));
            semi = value.find(';');
        } else {
            semi = value.find(';');
            val = std::string(trim(value.substr(0, semi)));
        }
        std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
        on_param(key, std::move(val));
    }
    return first;
}

} // namespace

multipart_parser::multipart_parser(std::string boundary, callbacks cb)
    : delimiter_("\r\n--" + boundary), cb_(std::move(cb)) {
    // The first boundary has no CRLF before it; pretend it had one.
    buf_ = "\r\n";
}

std::optional<std::string> multipart_parser::boundary_of(std::string_view content_type) {
    std::optional<std::string> boundary;
    auto first = split_params(content_type, [&](const std::string& key, std::string value) {
        if (key == "boundary") boundary = std::move(value);
    });
    if (!iequals(first, "multipart/form-data")) return std::nullopt;
    if (!boundary || boundary->empty() || boundary->size() > 70) return std::nullopt;
    return boundary;
}

bool multipart_parser::fail(std::string message) {
    state_ = state::failed;
    if (error_.empty()) error_ = std::move(message);
    return false;
}

bool multipart_parser::feed(std::string_view bytes) {
    if (state_ == state::failed) return false;
    if (state_ == state::done) return true; // epilogue is ignored
    buf_.append(bytes);
    while (true) {
        auto before = state_;
        auto size_before = buf_.size();
        if (!step()) return false;
        if (state_ == state::done) {
            buf_.clear();
            return true;
        }
        if (state_ == before && buf_.size() == size_before) return true; // needs more bytes
    }
}

bool multipart_parser::step() {
    switch (state_) {
    case state::preamble: {
        auto pos = buf_.find(delimiter_);
        if (pos == std::string::npos) {
            if (buf_.size() >= delimiter_.size()) buf_.erase(0, buf_.size() - (delimiter_.size() - 1));
            return true;
        }
        buf_.erase(0, pos + delimiter_.size());
        state_ = state::after_boundary;
        return true;
    }
    case state::after_boundary: {
        if (buf_.size() < 2) return true;
        if (buf_.compare(0, 2, "--") == 0) {
            state_ = state::done;
            return true;
        }
        if (buf_.compare(0, 2, "\r\n") != 0) return fail("malformed multipart boundary line");
        buf_.erase(0, 2);
        state_ = state::headers;
        return true;
    }
    case state::headers: {
        std::size_t end = 0;
        std::size_t skip = 0;
        if (buf_.size() >= 2 && buf_.compare(0, 2, "\r\n") == 0) {
            end = 0;
            skip = 2;
        } else {
            auto pos = buf_.find("\r\n\r\n");
            // The block is bounded however the body was cut into feeds: a
            // whole one in a single feed, or a partial one that can no longer
            // end within the limit.
            if (pos == std::string::npos ? buf_.size() > max_header_block + 3 : pos > max_header_block)
                return fail("multipart part headers too large");
            if (pos == std::string::npos) return true;
            end = pos;
            skip = pos + 4;
        }
        if (++parts_ > max_parts) return fail("too many multipart parts");
        if (!parse_headers(std::string_view(buf_).substr(0, end))) return false;
        buf_.erase(0, skip);
        state_ = state::body;
        if (cb_.on_part_begin && !cb_.on_part_begin(part_)) return fail("part refused");
        return true;
    }
    case state::body: {
        auto pos = buf_.find(delimiter_);
        if (pos == std::string::npos) {
            // Keep a tail that could be the start of a delimiter.
            if (buf_.size() >= delimiter_.size()) {
                auto emit = buf_.size() - (delimiter_.size() - 1);
                if (cb_.on_part_data && !cb_.on_part_data(std::string_view(buf_).substr(0, emit)))
                    return fail("part data refused");
                buf_.erase(0, emit);
            }
            return true;
        }
        if (pos > 0 && cb_.on_part_data && !cb_.on_part_data(std::string_view(buf_).substr(0, pos)))
            return fail("part data refused");
        if (cb_.on_part_end && !cb_.on_part_end()) return fail("part refused");
        buf_.erase(0, pos + delimiter_.size());
        state_ = state::after_boundary;
        return true;
    }
    case state::done:
    case state::failed:
        return state_ == state::done;
    }
    return true;
}

bool multipart_parser::parse_headers(std::string_view block) {
    part_ = {};
    bool have_disposition = false;
    while (!block.empty()) {
        auto eol = block.find("\r\n");
        std::string_view line = block.substr(0, eol);
        block = eol == std::string_view::npos ? std::string_view{} : block.substr(eol + 2);
        auto colon = line.find(':');
        if (colon == std::string_view::npos) return fail("malformed multipart part header");
        auto name = trim(line.substr(0, colon));
        auto value = trim(line.substr(colon + 1));
        if (iequals(name, "content-disposition")) {
            have_disposition = true;
            auto kind = split_params(value, [&](const std::string& key, std::string v) {
                if (key == "name") part_.name = std::move(v);
                else if (key == "filename") part_.filename = std::move(v);
            });
            if (!iequals(kind, "form-data")) return fail("multipart part is not form-data");
        } else if (iequals(name, "content-type")) {
            part_.content_type = std::string(value);
        }
    }
    if (!have_disposition || part_.name.empty()) return fail("multipart part without a field name");
    return true;
}

} // namespace tether::broker::net

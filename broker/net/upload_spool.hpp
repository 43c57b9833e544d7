#pragma once
// Streams a multipart/form-data body to disk: file fields go to files in a
// spool directory chunk by chunk, text fields stay in memory (bounded), and
// the whole body is bounded by max_bytes. Blocking file writes, no sockets.

#include "net/http_types.hpp"
#include "net/multipart_parser.hpp"

#include "tether/shared/crypto.hpp"

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace tether::broker::net {

class upload_spool {
public:
    enum class status { ok, too_large, malformed, io_error };

    upload_spool(std::string boundary, std::string dir, std::uint64_t max_bytes);
    ~upload_spool();
    upload_spool(const upload_spool&) = delete;
    upload_spool& operator=(const upload_spool&) = delete;

    status feed(std::string_view bytes);
    // Call at the end of the body: checks the closing boundary was seen.
    status finish();
    std::shared_ptr<uploaded_form> take() { return std::move(form_); }
    const std::string& error() const { return error_; }

private:
    bool begin_part(const multipart_part_header& h);
    bool part_data(std::string_view bytes);
    bool end_part();
    void close_file();

    multipart_parser parser_;
    std::string dir_;
    std::uint64_t max_bytes_;
    std::uint64_t received_ = 0;
    std::uint64_t text_bytes_ = 0;
    std::shared_ptr<uploaded_form> form_ = std::make_shared<uploaded_form>();
    status failure_ = status::ok;
    std::string error_;

    // the part being read
    bool in_file_ = false;
    std::string field_name_;
    std::string text_;
    std::FILE* file_ = nullptr;
    std::unique_ptr<sha256> hash_;
};

} // namespace tether::broker::net

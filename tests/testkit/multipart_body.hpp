#pragma once
// Builds a multipart/form-data request body (RFC 7578) for upload tests:
// plain fields and file fields with a name, a type and arbitrary bytes.

#include <string>
#include <string_view>

namespace tether::testkit {

class multipart_body {
public:
    multipart_body();
    multipart_body& field(std::string_view name, std::string_view value);
    multipart_body& file(std::string_view field, std::string_view filename, std::string_view mime,
                         std::string_view bytes);
    // The finished body (adds the closing boundary; call once).
    std::string finish();
    std::string content_type() const { return "multipart/form-data; boundary=" + boundary_; }

private:
    std::string boundary_;
    std::string body_;
};

} // namespace tether::testkit

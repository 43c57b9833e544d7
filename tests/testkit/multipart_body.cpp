// multipart/form-data builder; see multipart_body.hpp.
#include "testkit/multipart_body.hpp"

#include "tether/shared/ids.hpp"

namespace tether::testkit {

multipart_body::multipart_body() : boundary_("----tether-itest-" + random_hex(12)) {}

multipart_body& multipart_body::field(std::string_view name, std::string_view value) {
    body_ += "--" + boundary_ + "\r\n";
    body_ += "Content-Disposition: form-data; name=\"" + std::string(name) + "\"\r\n\r\n";
    body_ += value;
    body_ += "\r\n";
    return *this;
}

multipart_body& multipart_body::file(std::string_view field, std::string_view filename, std::string_view mime,
                                     std::string_view bytes) {
    body_ += "--" + boundary_ + "\r\n";
    body_ += "Content-Disposition: form-data; name=\"" + std::string(field) + "\"; filename=\"" +
             std::string(filename) + "\"\r\n";
    body_ += "Content-Type: " + std::string(mime) + "\r\n\r\n";
    body_ += bytes;
    body_ += "\r\n";
    return *this;
}

std::string multipart_body::finish() {
    body_ += "--" + boundary_ + "--\r\n";
    return body_;
}

} // namespace tether::testkit

#pragma once
// The seam between the network sessions and the HTTP API: what a session
// hands to a handler (the request, and a streamed upload already on disk) and
// how a handler answers (http_exchange, callable from any thread, once).
// Knows nothing of routes, auth or the core.

#include "core/request.hpp"

#include <boost/beast/http.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tether::broker::net {

namespace http = boost::beast::http;

using string_request = http::request<http::string_body>;
using string_response = http::response<http::string_body>;
using file_response = http::response<http::file_body>;
using request_header = http::request_header<>;

class sse_channel;

// A multipart/form-data body, streamed: text fields in memory (bounded),
// file fields already written to disk. Files not adopted by a request are
// removed when the form is destroyed.
struct uploaded_form {
    std::map<std::string, std::string> fields;
    std::vector<stored_file> files;
    bool adopted = false; // set once a request owns the files
    uploaded_form() = default;
    uploaded_form(const uploaded_form&) = delete;
    uploaded_form& operator=(const uploaded_form&) = delete;
    uploaded_form(uploaded_form&&) = default;
    uploaded_form& operator=(uploaded_form&&) = default;
    ~uploaded_form();
};

struct incoming_request {
    string_request msg; // headers, and the body unless it was multipart
    std::shared_ptr<uploaded_form> form; // set when the body was multipart/form-data
    bool tls = false;
    std::string remote; // peer address, for logs
};

// How a handler answers one request. Thread-safe; the first answer wins,
// later ones are ignored. Dropping the exchange unanswered answers 500.
class http_exchange {
public:
    virtual ~http_exchange() = default;
    virtual void respond(string_response res) = 0;
    virtual void respond_file(file_response res) = 0;
    // Turns the connection into a Server-Sent Events stream fed by `channel`.
    virtual void respond_events(std::shared_ptr<sse_channel> channel) = 0;
};

// Limits an upload must respect, decided per request before its body is read.
struct upload_admission {
    std::optional<string_response> refusal; // answer now, without reading the body
    std::uint64_t max_bytes = 0;            // whole body
    std::string spool_dir;                  // where file fields are written
};

// Implemented by the API layer.
class request_handler {
public:
    virtual ~request_handler() = default;
    // Called for multipart bodies before reading them: auth, space, limits.
    virtual upload_admission admit_upload(const request_header& header, bool tls) = 0;
    virtual void handle(incoming_request req, std::shared_ptr<http_exchange> exchange) = 0;
    // Largest non-multipart body accepted (JSON, forms).
    virtual std::uint64_t max_body_bytes() const = 0;
};

} // namespace tether::broker::net

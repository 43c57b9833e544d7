// Kind http: a job POSTed to any HTTP endpoint, its answer made the result.
#include "backends/upstream/sse_lines.hpp"
#include "backends/upstream/upstream_media.hpp"
#include "backends/upstream/upstream_backend.hpp"

#include "tether/protocol/json_writer.hpp"
#include "tether/shared/base64.hpp"
#include "tether/shared/ids.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <stdexcept>

namespace tether::agent {
namespace {

using steady = std::chrono::steady_clock;

std::string file_bytes(const input_file& f) {
    if (f.path.empty()) return f.bytes;
    std::ifstream in(f.path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) throw std::runtime_error("cannot read the input file " + f.name);
    return bytes;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// "text/plain; charset=utf-8" -> "text/plain".
std::string media_type(std::string_view content_type) {
    auto semi = content_type.find(';');
    auto t = content_type.substr(0, semi);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    return lower(t);
}

// `name` as an output file's name: its last path component, without control
// characters, at most 200 bytes; "" when nothing usable is left.
std::string safe_file_name(std::string name) {
    if (auto slash = name.find_last_of("/\\"); slash != std::string::npos) name.erase(0, slash + 1);
    if (name.size() > 200 || name == "." || name == "..") return {};
    for (const char c : name)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return {};
    return name;
}

// A name or file name for a multipart part header: no quote, backslash, CR
// or LF can break out of its quoted string.
std::string part_header_value(std::string s) {
    for (char& c : s)
        if (c == '"' || c == '\r' || c == '\n' || c == '\\') c = '_';
    return s;
}

// A safe file name from Content-Disposition's filename="…", else "".
std::string disposition_name(std::string_view cd) {
    const auto at = lower(cd).find("filename=");
    if (at == std::string::npos) return {};
    std::string_view v = cd.substr(at + 9);
    std::string name;
    if (!v.empty() && v.front() == '"') {
        v.remove_prefix(1);
        name = std::string(v.substr(0, v.find('"')));
    } else {
        name = std::string(v.substr(0, v.find(';')));
    }
    return safe_file_name(std::move(name));
}

std::string extension_for(const std::string& mime) {
    static const std::pair<const char*, const char*> table[] = {
        {"audio/wav", "wav"},  {"audio/x-wav", "wav"},      {"audio/wave", "wav"},   {"audio/mpeg", "mp3"},
        {"audio/ogg", "ogg"},  {"audio/flac", "flac"},      {"audio/webm", "webm"},  {"image/png", "png"},
        {"image/jpeg", "jpg"}, {"image/webp", "webp"},      {"image/gif", "gif"},    {"video/mp4", "mp4"},
        {"video/webm", "webm"}, {"application/pdf", "pdf"}, {"application/zip", "zip"}};
    for (const auto& [m, e] : table)
        if (mime == m) return e;
    return "bin";
}

} // namespace

// The member at `path` ("data.0.text": object members and array indexes).
simdjson::simdjson_result<simdjson::dom::element> upstream_member(simdjson::dom::element doc, const std::string& path) {
    simdjson::dom::element at = doc;
    std::size_t start = 0;
    while (start <= path.size()) {
        auto dot = path.find('.', start);
        if (dot == std::string::npos) dot = path.size();
        const std::string key = path.substr(start, dot - start);
        simdjson::dom::element next;
        if (at.is_array()) {
            std::size_t index = 0;
            auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), index);
            if (ec != std::errc() || p != key.data() + key.size()) return simdjson::NO_SUCH_FIELD;
            if (at.at(index).get(next)) return simdjson::INDEX_OUT_OF_BOUNDS;
        } else if (at[key].get(next)) {
            return simdjson::NO_SUCH_FIELD;
        }
        at = next;
        start = dot + 1;
    }
    return at;
}

// A JSON value as result text: a string as itself, anything else as JSON.
std::string upstream_text(simdjson::dom::element v) {
    std::string_view s;
    if (!v.get_string().get(s)) return std::string(s);
    return simdjson::minify(v);
}

http_request_spec http_upstream_request(const upstream_target& t, const job& j) {
    http_request_spec req;
    req.target = t.url.base;
    req.headers = t.headers;
    const std::string params = j.params_json.empty() ? "{}" : j.params_json;
    if (!t.url.multipart) {
        protocol::json_writer w;
        w.begin_object().key("prompt").value(j.prompt).key("params").raw(params);
        if (!j.messages_json.empty()) w.key("messages").raw(j.messages_json);
        w.key("files").begin_array();
        for (const auto& f : j.files) {
            w.begin_object().key("field").value(f.field).key("name").value(f.name).key("mime").value(f.mime);
            w.key("size").value(static_cast<std::uint64_t>(f.size)).key("data").value(base64_encode(file_bytes(f)));
            w.end_object();
        }
        w.end_array().key("request_id").value(j.request_id).key("space").value(j.space).end_object();
        req.body = w.take();
        return req;
    }
    const std::string boundary = "tether-" + uuid::random().to_string();
    req.content_type = "multipart/form-data; boundary=" + boundary;
    std::string& b = req.body;
    auto part = [&](const std::string& name, const std::string& filename, const std::string& mime, std::string_view data) {
        b += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
        if (!filename.empty()) b += "; filename=\"" + filename + "\"";
        b += "\r\n";
        if (!mime.empty()) b += "Content-Type: " + mime + "\r\n";
        b += "\r\n";
        b.append(data);
        b += "\r\n";
    };
    part("prompt", "", "", j.prompt);
    part("params", "", "application/json", params);
    if (!j.messages_json.empty()) part("messages", "", "application/json", j.messages_json);
    for (const auto& f : j.files)
        part(part_header_value(f.field.empty() ? "file" : f.field), part_header_value(f.name.empty() ? "file" : f.name),
             f.mime.empty() ? "application/octet-stream" : part_header_value(f.mime), file_bytes(f));
    b += "--" + boundary + "--\r\n";
    return req;
}

upstream_outcome run_http_job(const upstream_target& t, boost::asio::ssl::context* tls, const job& j,
                              cancellation_token& cancel, result_sink& sink, const http_call_limits& limits) {
    upstream_outcome out;
    http_request_spec req;
    try {
        req = http_upstream_request(t, j);
    } catch (const std::runtime_error& e) {
        sink.failed("backend_error", e.what());
        return out;
    }
    const std::string& field = t.url.field;
    const auto start = steady::now();
    std::string mime, text, event_error, file_name;
    bool processing = false;
    answer_reader answer;
    simdjson::dom::parser parser;
    auto on_event = [&](std::string_view data) {
        if (data == "[DONE]") return;
        std::string piece;
        if (!field.empty()) {
            // Each event is JSON and the output is a member of it; an event
            // without that member (a heartbeat, a status) adds nothing.
            simdjson::dom::element doc, v;
            if (parser.parse(data.data(), data.size()).get(doc) || upstream_member(doc, field).get(v)) return;
            if (v.is_null()) return;
            piece = upstream_text(v);
        } else {
            piece = std::string(data);
        }
        if (piece.empty()) return;
        if (!simdjson::validate_utf8(piece)) {
            event_error = "an event is not valid UTF-8";
            return;
        }
        if (!processing) {
            processing = true;
            sink.processing();
        }
        text += piece;
        sink.delta(std::move(piece));
    };
    const auto r = http_call(
        t.url, tls, req, cancel,
        [&](const http_head& h) {
            answer.status = h.status;
            mime = media_type(h.content_type);
            answer.sse = mime == "text/event-stream";
            file_name = disposition_name(h.content_disposition);
            return true;
        },
        [&](std::string_view bytes) { return answer.feed(bytes, on_event) && event_error.empty(); }, limits);
    if (report_call_failure(r, j.space, answer.error_body, cancel, sink, out)) return out;
    if (!event_error.empty() || answer.too_long) {
        sink.failed("upstream_error",
                    answer.too_long ? "the upstream sent an event of more than 1 MiB" : "the upstream's stream: " + event_error);
        return out;
    }
    const unsigned status = answer.status;
    const bool sse = answer.sse;
    std::string& body = answer.body;
    completion c;
    protocol::json_writer w;
    w.begin_object().key("upstream").begin_object().key("status").value(static_cast<std::uint64_t>(status));
    w.key("content_type").value(mime.empty() ? std::string("(none)") : mime).end_object();
    const bool json = mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"));
    if (sse) {
        c.output = std::move(text);
    } else if (json) {
        simdjson::dom::element doc;
        if (parser.parse(body).get(doc)) {
            sink.failed("upstream_error", "the upstream's answer says it is JSON but is not");
            return out;
        }
        if (field.empty()) {
            c.output = upstream_text(doc);
        } else {
            simdjson::dom::element v;
            if (upstream_member(doc, field).get(v)) {
                sink.failed("upstream_error", fmt::format("the upstream's JSON answer has no member '{}': {}", field,
                                                          upstream_error_message(body)));
                return out;
            }
            c.output = upstream_text(v);
        }
    } else if ((mime.starts_with("text/") || mime.empty()) && simdjson::validate_utf8(body)) {
        c.output = std::move(body);
    } else {
        const std::string type = mime.empty() ? "application/octet-stream" : mime;
        const std::string name = file_name.empty() ? "output." + extension_for(type) : file_name;
        auto answer = answer_in_requested_format(j, output_file{name, type, std::move(body), {}});
        if (!answer.error.empty()) {
            sink.failed("upstream_error", std::move(answer.error));
            return out;
        }
        if (!answer.note.empty()) w.key("audio").value(answer.note);
        c.output = fmt::format("{} ({}, {} bytes)", answer.file.name, answer.file.mime, answer.file.bytes.size());
        sink.file(std::move(answer.file));
    }
    w.end_object();
    c.extra_json = w.take();
    c.inference_ms = std::chrono::duration<double, std::milli>(steady::now() - start).count();
    sink.completed(std::move(c));
    return out;
}


// ---------------------------------------------------------------- gradio

namespace {

// The whole body of a call (bounded by the limits); the result says how it went.
http_call_result whole_call(const upstream_url& url, boost::asio::ssl::context* tls, const http_request_spec& req,
                            cancellation_token& cancel, const http_call_limits& limits, std::string& body) {
    return http_call(
        url, tls, req, cancel, [](const http_head&) { return true; },
        [&](std::string_view b) {
            body.append(b);
            return true;
        },
        limits);
}

// Thrown by a step of the Gradio exchange that failed (the sink already told).
struct gradio_failed {};

} // namespace

std::string gradio_call_body(const upstream_url& url, const job& j, const std::function<std::string(const input_file&)>& upload) {
    simdjson::dom::parser p;
    simdjson::dom::object params;
    const bool have_params = !j.params_json.empty() && !p.parse(j.params_json).get_object().get(params);
    protocol::json_writer w;
    w.begin_object().key("data").begin_array();
    std::size_t next_file = 0;
    for (const auto& in : url.inputs) {
        if (in == "prompt") {
            w.value(j.prompt);
        } else if (in == "messages") {
            w.raw(j.messages_json.empty() ? "[]" : j.messages_json);
        } else if (in.starts_with("param:")) {
            simdjson::dom::element v;
            if (have_params && !params[in.substr(6)].get(v)) w.raw(simdjson::minify(v));
            else w.null();
        } else { // file, file:FIELD
            const input_file* f = nullptr;
            if (in == "file") {
                if (next_file < j.files.size()) f = &j.files[next_file++];
            } else {
                for (const auto& c : j.files)
                    if (c.field == in.substr(5)) f = &c;
            }
            if (f == nullptr) w.null();
            else w.raw(upload(*f));
        }
    }
    w.end_array().end_object();
    return w.take();
}

// Gradio's API as its clients use it: each file input POSTed to ROOT/upload
// (multipart "files", answered with the server's paths), then POST
// .../call/NAME {"data":[inputs]} answered {"event_id"}, then GET
// .../call/NAME/EVENT_ID: an event stream of `generating` (the outputs so
// far), `complete` (the outputs), `error` and `heartbeat` events. A text
// output streams as deltas; a file output (FileData) is fetched from the app
// (always from the configured host) and becomes an output file.
upstream_outcome run_gradio_job(const upstream_target& t, boost::asio::ssl::context* tls, const job& j,
                                cancellation_token& cancel, result_sink& sink, const http_call_limits& limits) {
    upstream_outcome out;
    const auto start = steady::now();
    const std::string root = t.url.gradio_root();
    simdjson::dom::parser parser;
    // One step: the call's body, or the request failed (sink told) and we stop.
    auto step = [&](const http_request_spec& req, std::string& body) {
        const auto r = whole_call(t.url, tls, req, cancel, limits, body);
        if (report_call_failure(r, j.space, body, cancel, sink, out)) throw gradio_failed{};
        return r.head;
    };
    try {
        auto upload = [&](const input_file& f) {
            http_request_spec req;
            req.target = root + "/upload";
            req.headers = t.headers;
            const std::string boundary = "tether-" + uuid::random().to_string();
            req.content_type = "multipart/form-data; boundary=" + boundary;
            const std::string name = part_header_value(f.name.empty() ? "file" : f.name);
            req.body = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"" + name +
                       "\"\r\nContent-Type: " + (f.mime.empty() ? std::string("application/octet-stream") : part_header_value(f.mime)) +
                       "\r\n\r\n" + file_bytes(f) + "\r\n--" + boundary + "--\r\n";
            std::string body;
            step(req, body);
            simdjson::dom::element doc;
            std::string_view path;
            if (parser.parse(body).get(doc) || doc.at(0).get_string().get(path)) {
                sink.failed("upstream_error", "the Gradio app's upload answer is not a list of paths: " + upstream_error_message(body));
                throw gradio_failed{};
            }
            protocol::json_writer w;
            w.begin_object().key("path").value(path).key("orig_name").value(name).key("mime_type").value(f.mime);
            w.key("size").value(static_cast<std::uint64_t>(f.size));
            w.key("meta").begin_object().key("_type").value("gradio.FileData").end_object().end_object();
            return w.take();
        };
        http_request_spec call;
        call.target = t.url.base;
        call.headers = t.headers;
        call.body = gradio_call_body(t.url, j, upload);
        std::string call_answer;
        step(call, call_answer);
        std::string_view event_id;
        simdjson::dom::element doc;
        if (parser.parse(call_answer).get(doc) || doc["event_id"].get_string().get(event_id) || event_id.empty() ||
            event_id.size() > 200 || event_id.find_first_of("/?# ") != std::string_view::npos) {
            sink.failed("upstream_error", "the Gradio app did not answer an event id: " + upstream_error_message(call_answer));
            return out;
        }
        http_request_spec get;
        get.method = "GET";
        get.target = t.url.base + "/" + std::string(event_id);
        get.headers = t.headers;
        get.headers.emplace_back("Accept", "text/event-stream");

        std::string text, app_error, final_json;
        bool processing = false, complete = false, failed_event = false;
        answer_reader answer;
        answer.sse = true;
        simdjson::dom::parser events;
        auto on_event = [&](std::string_view data) {
            const std::string& name = answer.lines.event();
            if (name == "error") {
                failed_event = true;
                simdjson::dom::element e;
                std::string_view msg;
                if (!events.parse(data.data(), data.size()).get(e) && !e.get_string().get(msg)) app_error = std::string(msg);
                return;
            }
            if (name != "generating" && name != "complete") return;
            simdjson::dom::element outputs, v;
            if (events.parse(data.data(), data.size()).get(outputs) || upstream_member(outputs, t.url.field).get(v)) return;
            if (name == "complete") {
                complete = true;
                final_json = simdjson::minify(v);
            }
            std::string_view now;
            if (v.get_string().get(now)) return; // not text: taken from the complete event
            if (now.size() > text.size() && now.substr(0, text.size()) == text && simdjson::validate_utf8(now)) {
                if (!processing) {
                    processing = true;
                    sink.processing();
                }
                sink.delta(std::string(now.substr(text.size())));
                text = std::string(now);
            }
        };
        const auto r = http_call(
            t.url, tls, get, cancel,
            [&](const http_head& h) {
                answer.status = h.status;
                return true;
            },
            [&](std::string_view bytes) { return answer.feed(bytes, on_event) && !complete && !failed_event; }, limits);
        if (report_call_failure(r, j.space, answer.error_body, cancel, sink, out)) return out;
        if (failed_event) {
            sink.failed("upstream_error", "the Gradio app failed" + (app_error.empty() ? std::string(" (it said no more)") : ": " + app_error));
            return out;
        }
        if (answer.too_long) {
            sink.failed("upstream_error", "the Gradio app sent an event of more than 1 MiB");
            return out;
        }
        if (!complete) {
            sink.failed("upstream_error", "the Gradio app's event stream ended without a result");
            return out;
        }
        completion c;
        simdjson::dom::element v;
        if (parser.parse(final_json).get(v)) {
            sink.failed("upstream_error", "the Gradio app's result is not JSON");
            return out;
        }
        std::string_view s, path, url_text;
        if (!v.get_string().get(s)) {
            c.output = std::string(s);
        } else if (v.is_object() && (!v["url"].get_string().get(url_text) || !v["path"].get_string().get(path))) {
            // A file: fetched from the app by its URL's path (never another host) or /file=PATH.
            std::string target;
            if (!url_text.empty()) {
                const auto scheme = url_text.find("://");
                const auto slash = scheme == std::string_view::npos ? url_text.find('/') : url_text.find('/', scheme + 3);
                if (slash != std::string_view::npos) target = std::string(url_text.substr(slash));
            }
            if (target.empty()) target = root + "/file=" + std::string(path);
            for (const char ch : target)
                if (static_cast<unsigned char>(ch) <= 0x20) {
                    sink.failed("upstream_error", "the Gradio app's file URL is not usable");
                    return out;
                }
            std::string_view mime_v, name_v;
            std::string mime = !v["mime_type"].get_string().get(mime_v) && !mime_v.empty() ? std::string(mime_v) : "";
            std::string name = !v["orig_name"].get_string().get(name_v) ? safe_file_name(std::string(name_v)) : "";
            http_request_spec fetch;
            fetch.method = "GET";
            fetch.target = target;
            fetch.headers = t.headers;
            std::string bytes;
            const auto head = step(fetch, bytes);
            if (mime.empty()) mime = head.content_type.empty() ? "application/octet-stream" : media_type(head.content_type);
            if (name.empty()) name = "output." + extension_for(mime);
            auto answer = answer_in_requested_format(j, output_file{name, mime, std::move(bytes), {}});
            if (!answer.error.empty()) {
                sink.failed("upstream_error", std::move(answer.error));
                return out;
            }
            if (!answer.note.empty()) {
                protocol::json_writer w;
                w.begin_object().key("audio").value(answer.note).end_object();
                c.extra_json = w.take();
            }
            c.output = fmt::format("{} ({}, {} bytes)", answer.file.name, answer.file.mime, answer.file.bytes.size());
            sink.file(std::move(answer.file));
        } else {
            c.output = final_json;
        }
        c.inference_ms = std::chrono::duration<double, std::milli>(steady::now() - start).count();
        sink.completed(std::move(c));
    } catch (const gradio_failed&) {
    } catch (const std::runtime_error& e) {
        sink.failed("backend_error", e.what());
    }
    return out;
}

} // namespace tether::agent

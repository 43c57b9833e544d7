// Frames the broker sends: registered, inference_request, cancel, error.
#include "codec_detail.hpp"
#include "frame_parse.hpp"
#include "tether/protocol/codec.hpp"
#include "tether/protocol/json_writer.hpp"

#include <limits>

namespace tether::protocol {
namespace {

namespace od = simdjson::ondemand;
using detail::field_reader;
using detail::make_error;
using detail::maybe_error;
using detail::presence;
using detail::read_file_ref;
using detail::write_file_ref;

constexpr std::uint32_t max_heartbeat_s = 3600;

maybe_error read_error_info(field_reader& r, error_info& out) {
    if (auto err = r.string("code", presence::required, out.code)) return err;
    return r.string("message", presence::optional, out.message);
}

maybe_error read_space_status(od::value& v, const std::string& path, const parse_limits& limits, space_status& s) {
    return detail::read_object(v, path, limits, [&](field_reader& r) -> maybe_error {
        if (auto err = r.string("space", presence::required, s.space)) return err;
        if (auto err = r.boolean("ok", presence::required, s.ok)) return err;
        return r.object("error", presence::optional, [&](field_reader& e) {
            error_info info;
            auto err = read_error_info(e, info);
            s.error = std::move(info);
            return err;
        });
    });
}

maybe_error read_registered(field_reader& top, registered_frame& f) {
    const auto& limits = top.limits();
    const auto read_space = [&](od::value& v, const std::string& path) {
        space_status s;
        auto err = read_space_status(v, path, limits, s);
        if (!err) f.spaces.push_back(std::move(s));
        return err;
    };
    if (auto err = top.array("spaces", presence::required, limits.max_spaces, false, read_space)) return err;
    return top.uint32("heartbeat_s", presence::optional, 1, max_heartbeat_s, f.heartbeat_s);
}

maybe_error read_inference_request(field_reader& top, inference_request_frame& f) {
    if (auto err = top.string("request_id", presence::required, f.request_id)) return err;
    if (auto err = top.string("space", presence::required, f.space)) return err;
    if (auto err = top.string("username", presence::optional, f.username)) return err;
    if (auto err = top.string("deadline", presence::required, f.deadline)) return err;
    const auto& limits = top.limits();
    return top.object("payload", presence::required, [&](field_reader& r) -> maybe_error {
        if (auto err = r.string("prompt", f.prompt)) return err;
        if (auto err = r.canonical("params", presence::optional, od::json_type::object, f.params_json)) return err;
        std::string messages;
        if (auto err = r.canonical("messages", presence::optional, od::json_type::array, messages)) return err;
        if (!messages.empty()) f.messages_json = std::move(messages);
        return r.array("files", presence::optional, limits.max_files, false,
                       [&](od::value& v, const std::string& path) {
                           file_ref file;
                           auto err = read_file_ref(v, path, limits, file);
                           if (!err) f.files.push_back(std::move(file));
                           return err;
                       });
    });
}

maybe_error read_cancel(field_reader& top, cancel_frame& f) {
    if (auto err = top.string("request_id", presence::required, f.request_id)) return err;
    return top.string("reason", presence::optional, f.reason);
}

maybe_error read_error(field_reader& top, error_frame& f) {
    if (auto err = top.string("code", presence::required, f.code)) return err;
    return top.string("message", presence::optional, f.message);
}

} // namespace

parse_result<broker_frame> parse_broker_frame(std::string_view text, const parse_limits& limits) {
    return detail::parse_frame<broker_frame>(
        text, limits, [](std::string_view type, field_reader& top, broker_frame& out) -> maybe_error {
            const auto read = [&](auto frame, auto reader) -> maybe_error {
                auto err = reader(top, frame);
                out = std::move(frame);
                return err;
            };
            if (type == "registered") return read(registered_frame{}, read_registered);
            if (type == "inference_request") return read(inference_request_frame{}, read_inference_request);
            if (type == "cancel") return read(cancel_frame{}, read_cancel);
            if (type == "error") return read(error_frame{}, read_error);
            return make_error(parse_errc::unknown_type, "type: not a frame the broker sends");
        });
}

std::string encode(const registered_frame& f) {
    json_writer w;
    w.begin_object().key("type").value("registered").key("spaces").begin_array();
    for (const auto& s : f.spaces) {
        w.begin_object().key("space").value(s.space).key("ok").value(s.ok);
        if (s.error)
            w.key("error")
                .begin_object()
                .key("code")
                .value(s.error->code)
                .key("message")
                .value(s.error->message)
                .end_object();
        w.end_object();
    }
    w.end_array().key("heartbeat_s").value(std::uint64_t{f.heartbeat_s}).end_object();
    return w.take();
}

std::string encode(const inference_request_frame& f) {
    json_writer w;
    w.begin_object().key("type").value("inference_request");
    w.key("request_id").value(f.request_id).key("space").value(f.space).key("username").value(f.username);
    w.key("payload").begin_object();
    if (f.prompt) w.key("prompt").value(*f.prompt);
    const auto params = detail::carried_json(f.params_json, '{');
    w.key("params").raw(params ? std::string_view(*params) : std::string_view("{}"));
    if (f.messages_json) {
        if (const auto messages = detail::carried_json(*f.messages_json, '[')) w.key("messages").raw(*messages);
    }
    w.key("files").begin_array();
    for (const auto& file : f.files)
        write_file_ref(w, file);
    w.end_array().end_object();
    w.key("deadline").value(f.deadline).end_object();
    return w.take();
}

std::string encode(const cancel_frame& f) {
    json_writer w;
    w.begin_object().key("type").value("cancel").key("request_id").value(f.request_id).key("reason").value(f.reason);
    return w.end_object().take();
}

std::string encode(const error_frame& f) {
    json_writer w;
    w.begin_object().key("type").value("error").key("code").value(f.code).key("message").value(f.message);
    return w.end_object().take();
}

std::string encode(const broker_frame& f) {
    return std::visit([](const auto& frame) { return encode(frame); }, f);
}

} // namespace tether::protocol

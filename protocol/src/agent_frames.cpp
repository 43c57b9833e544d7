// Frames an agent sends: register, inference_result, drain.
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

constexpr std::uint32_t max_capacity = 1024;

maybe_error read_register(field_reader& top, register_frame& f) {
    // Any integer is accepted here: the broker answers an unsupported version
    // with bad_protocol for each space, which a parse error could not do.
    std::int64_t protocol = 0;
    if (auto err = top.integer("protocol", presence::required, std::numeric_limits<int>::min(),
                               std::numeric_limits<int>::max(), protocol))
        return err;
    f.protocol = static_cast<int>(protocol);
    const auto read_agent = [&](field_reader& r) -> maybe_error {
        if (auto err = r.string("name", presence::required, f.agent.name)) return err;
        if (auto err = r.string("version", presence::optional, f.agent.version)) return err;
        return r.string("instance", presence::optional, f.agent.instance);
    };
    if (auto err = top.object("agent", presence::required, read_agent)) return err;
    const auto& limits = top.limits();
    return top.array("spaces", presence::required, limits.max_spaces, true, [&](od::value& v, const std::string& path) {
        space_registration s;
        auto err = detail::read_object(v, path, limits, [&](field_reader& r) -> maybe_error {
            if (auto err = r.string("space", presence::required, s.space)) return err;
            if (auto err = r.string("token", presence::required, s.token)) return err;
            if (auto err = r.uint32("capacity", presence::optional, 1, max_capacity, s.capacity)) return err;
            if (auto err = r.array("models", presence::optional, limits.max_spaces, false,
                                   [&](od::value& m, const std::string& model_path) -> maybe_error {
                                       std::string name;
                                       auto bad = detail::read_string(m, model_path, name);
                                       if (!bad) s.models.push_back(std::move(name));
                                       return bad;
                                   }))
                return err;
            return r.object("model", presence::optional, [&](field_reader& m) -> maybe_error {
                model_info info;
                if (auto err = m.string("name", presence::required, info.name)) return err;
                if (auto err = m.uint32("context_length", presence::optional, 0, 1U << 31, info.context_length)) return err;
                if (auto err = m.boolean("chat", presence::optional, info.chat)) return err;
                if (auto err = m.string("task", presence::optional, info.task)) return err;
                s.model = std::move(info);
                return std::nullopt;
            });
        });
        if (!err) f.spaces.push_back(std::move(s));
        return err;
    });
}

maybe_error read_result_object(const std::string& result_json, const parse_limits& limits, inference_result_frame& f) {
    // result_json is our own compact output, so a second small parse is the
    // simplest way to read fields out of it without rewinding the first.
    const simdjson::padded_string padded(result_json);
    od::parser parser;
    if (auto err = detail::prepare_parser(parser, padded, limits)) return err;
    od::document doc;
    if (auto e = parser.iterate(padded).get(doc)) return detail::from_simdjson(e, "result");
    od::object obj;
    if (auto e = doc.get_object().get(obj)) return detail::from_simdjson(e, "result");
    field_reader r(obj, "result", limits);
    if (auto err = r.string("output", presence::optional, f.output)) return err;
    if (auto err = r.number("confidence", f.confidence)) return err;
    return r.array("files", presence::optional, limits.max_files, false, [&](od::value& v, const std::string& path) {
        file_ref file;
        auto err = read_file_ref(v, path, limits, file);
        if (!err) f.files.push_back(std::move(file));
        return err;
    });
}

std::optional<result_status> status_from_string(std::string_view s) {
    if (s == "processing") return result_status::processing;
    if (s == "streaming") return result_status::streaming;
    if (s == "completed") return result_status::completed;
    if (s == "failed") return result_status::failed;
    return std::nullopt;
}

maybe_error read_inference_result(field_reader& top, inference_result_frame& f) {
    if (auto err = top.string("request_id", presence::required, f.request_id)) return err;
    std::string status;
    if (auto err = top.string("status", presence::required, status)) return err;
    const auto parsed = status_from_string(status);
    if (!parsed) return make_error(parse_errc::bad_value, "status: must be processing, streaming, completed or failed");
    f.status = *parsed;
    switch (f.status) {
    case result_status::processing:
        break;
    case result_status::streaming:
        if (auto err = top.uint("seq", presence::required, 0, std::numeric_limits<std::uint64_t>::max(), f.seq))
            return err;
        if (auto err = top.object("delta", presence::required,
                                  [&](field_reader& r) { return r.string("text", presence::required, f.delta_text); }))
            return err;
        break;
    case result_status::completed:
        if (auto err = top.canonical("result", presence::required, od::json_type::object, f.result_json)) return err;
        if (auto err = read_result_object(f.result_json, top.limits(), f)) return err;
        break;
    case result_status::failed: {
        const auto read_error = [&](field_reader& r) -> maybe_error {
            if (auto err = r.string("code", presence::required, f.error.code)) return err;
            return r.string("message", presence::required, f.error.message);
        };
        if (auto err = top.object("error", presence::required, read_error)) return err;
        break;
    }
    }
    return top.object("metrics", presence::optional,
                      [&](field_reader& r) { return r.number("inference_ms", f.inference_ms); });
}

// The "result" object: result_json when it holds a valid object (it normally
// comes from canonical_json), otherwise built from output/confidence/files.
void write_result(json_writer& w, const inference_result_frame& f) {
    if (!f.result_json.empty()) {
        if (const auto result = detail::carried_json(f.result_json, '{')) {
            w.raw(*result);
            return;
        }
    }
    w.begin_object().key("output").value(f.output);
    if (f.confidence) w.key("confidence").value(*f.confidence);
    w.key("files").begin_array();
    for (const auto& file : f.files)
        write_file_ref(w, file);
    w.end_array().end_object();
}

} // namespace

parse_result<agent_frame> parse_agent_frame(std::string_view text, const parse_limits& limits) {
    return detail::parse_frame<agent_frame>(
        text, limits, [](std::string_view type, field_reader& top, agent_frame& out) -> maybe_error {
            if (type == "register") {
                register_frame f;
                auto err = read_register(top, f);
                out = std::move(f);
                return err;
            }
            if (type == "inference_result") {
                inference_result_frame f;
                auto err = read_inference_result(top, f);
                out = std::move(f);
                return err;
            }
            if (type == "drain") {
                out = drain_frame{};
                return std::nullopt;
            }
            return make_error(parse_errc::unknown_type, "type: not a frame an agent sends");
        });
}

std::string encode(const register_frame& f) {
    json_writer w;
    w.begin_object().key("type").value("register").key("protocol").value(f.protocol);
    w.key("agent")
        .begin_object()
        .key("name")
        .value(f.agent.name)
        .key("version")
        .value(f.agent.version)
        .key("instance")
        .value(f.agent.instance)
        .end_object();
    w.key("spaces").begin_array();
    for (const auto& s : f.spaces) {
        w.begin_object()
            .key("space")
            .value(s.space)
            .key("token")
            .value(s.token)
            .key("capacity")
            .value(std::uint64_t{s.capacity});
        w.key("models").begin_array();
        for (const auto& m : s.models)
            w.value(m);
        w.end_array();
        if (s.model) {
            w.key("model").begin_object().key("name").value(s.model->name);
            w.key("context_length").value(std::uint64_t{s.model->context_length});
            w.key("chat").value(s.model->chat);
            if (!s.model->task.empty()) w.key("task").value(s.model->task);
            w.end_object();
        }
        w.end_object();
    }
    w.end_array().end_object();
    return w.take();
}

std::string encode(const inference_result_frame& f) {
    json_writer w;
    w.begin_object().key("type").value("inference_result").key("request_id").value(f.request_id);
    w.key("status").value(to_string(f.status));
    switch (f.status) {
    case result_status::processing:
        break;
    case result_status::streaming:
        w.key("seq").value(f.seq).key("delta").begin_object().key("text").value(f.delta_text).end_object();
        break;
    case result_status::completed:
        w.key("result");
        write_result(w, f);
        break;
    case result_status::failed:
        w.key("error")
            .begin_object()
            .key("code")
            .value(f.error.code)
            .key("message")
            .value(f.error.message)
            .end_object();
        break;
    }
    if (f.inference_ms) w.key("metrics").begin_object().key("inference_ms").value(*f.inference_ms).end_object();
    w.end_object();
    return w.take();
}

std::string encode(const drain_frame&) {
    return R"({"type":"drain"})";
}

std::string encode(const agent_frame& f) {
    return std::visit([](const auto& frame) { return encode(frame); }, f);
}

} // namespace tether::protocol

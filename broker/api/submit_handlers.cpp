// POST /api/spaces/{space}/requests (JSON or multipart) and the seed path
// POST /websockets/submit/{space}. Answers 202 only once the store says the
// request is durable.
#include "api/api_handler.hpp"
#include "api/json_helpers.hpp"
#include "api/rate_check.hpp"

#include "tether/protocol/codec.hpp"
#include "tether/shared/log.hpp"

#include <filesystem>

namespace tether::broker::api {

namespace http = boost::beast::http;

namespace {

struct submission {
    std::optional<std::string> prompt;
    std::string params_json = "{}";
    std::shared_ptr<net::uploaded_form> form;
};

std::uint32_t feature_of_field(std::string_view field) {
    if (field == "audio") return feature_audio;
    if (field == "video") return feature_video;
    if (field == "file") return feature_file;
    return 0;
}

// Fills `sub` from a JSON body; an error response otherwise.
std::optional<net::string_response> from_json(std::string_view body, submission& sub) {
    simdjson::dom::parser parser;
    std::string err;
    auto obj = parse_object(parser, body, err);
    if (!obj) return error_response(http::status::bad_request, "bad_request", err);
    bool bad = false;
    sub.prompt = string_field(*obj, "prompt", bad);
    if (bad) return error_response(http::status::bad_request, "bad_request", "prompt must be a string");
    simdjson::dom::element params;
    if (!obj->at_key("params").get(params) && !params.is_null()) {
        if (!params.is_object()) return error_response(http::status::bad_request, "bad_request", "params must be an object");
        sub.params_json = simdjson::minify(params);
    }
    return std::nullopt;
}

std::optional<net::string_response> from_form_fields(const std::map<std::string, std::string>& fields,
                                                     submission& sub) {
    if (auto it = fields.find("prompt"); it != fields.end()) sub.prompt = it->second;
    if (auto it = fields.find("params"); it != fields.end() && !it->second.empty()) {
        auto canon = protocol::canonical_json(it->second);
        if (!canon || canon.value().empty() || canon.value().front() != '{')
            return error_response(http::status::bad_request, "bad_request", "params must be a JSON object");
        sub.params_json = canon.value();
    }
    return std::nullopt;
}

// application/x-www-form-urlencoded, for the seed path.
std::map<std::string, std::string> parse_urlencoded(std::string_view body) {
    std::map<std::string, std::string> out;
    while (!body.empty()) {
        auto amp = body.find('&');
        auto pair = body.substr(0, amp);
        body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
        auto eq = pair.find('=');
        auto k = percent_decode(pair.substr(0, eq), true);
        auto v = eq == std::string_view::npos ? std::optional<std::string>("") : percent_decode(pair.substr(eq + 1), true);
        if (k && v) out[*k] = *v;
    }
    return out;
}

void submit(api_services& s, api_call& call, const std::string& space, submission sub) {
    if (s.draining->load())
        return call.reply(error_response(http::status::service_unavailable, "draining", "the broker is shutting down"));
    // The core checks again when it takes the request (a space removed in
    // between is unknown_space there); this copy only saves a trip to it.
    auto config = s.core.find_space_config(space);
    if (!config) return call.reply(error_response(http::status::not_found, "unknown_space", "no such space"));

    // Only what the space's features allow.
    if (sub.prompt && (config->features & feature_prompt) == 0)
        return call.reply(error_response(http::status::bad_request, "bad_request", "this space takes no prompt"));
    if (sub.prompt && sub.prompt->size() > s.options.max_json)
        return call.reply(error_response(http::status::payload_too_large, "too_large", "prompt too large"));
    std::size_t files = 0;
    if (sub.form) {
        for (const auto& f : sub.form->files) {
            auto bit = feature_of_field(f.field);
            if (bit == 0)
                return call.reply(error_response(http::status::bad_request, "bad_request",
                                                 "unknown file field '" + f.field + "' (audio, video or file)"));
            if ((config->features & bit) == 0)
                return call.reply(error_response(http::status::bad_request, "bad_request",
                                                 "this space does not take " + f.field));
            ++files;
        }
    }
    if (!sub.prompt && files == 0)
        return call.reply(error_response(http::status::bad_request, "bad_request",
                                         (config->features & feature_prompt) != 0 ? "prompt is required"
                                                                                  : "a file is required"));

    if (auto refused = check_rate_limit(s.limiter, s.latency, call, space)) {
        auto res = error_response(http::status::too_many_requests, "rate_limited",
                                  std::string("too many requests (per ") + std::string(refused->limited_by) + ")");
        res.set(http::field::retry_after, std::to_string(refused->retry_after_s));
        return call.reply(std::move(res));
    }

    request_record r;
    r.id = uuid::random();
    r.space = space;
    r.username = call.who.user->name;
    r.prompt = std::move(sub.prompt);
    r.params_json = std::move(sub.params_json);
    if (sub.form) {
        for (auto& f : sub.form->files) {
            std::error_code ec;
            auto dest = s.blobs.adopt_input(r.id, f.blob, f.path, ec);
            if (ec) {
                log::error("cannot move upload {} to {}: {}", f.path, dest.string(), ec.message());
                s.blobs.remove_request(r.id);
                return call.reply(error_response(http::status::internal_server_error, "internal", "cannot store upload"));
            }
            f.path = dest.string();
            r.inputs.push_back(f);
        }
        sub.form->adopted = true;
    }
    auto id = r.id;
    bool had_files = !r.inputs.empty();
    const blob_store* blobs = &s.blobs;
    s.core.submit(std::move(r), [ex = call.ex, id, had_files, blobs](submit_outcome o, bool durable) {
        if (o.status == submit_status::ok && durable) {
            protocol::json_writer w;
            w.begin_object().key("request_id").value(id.to_string()).key("status").value("queued");
            w.key("position").value(static_cast<std::uint64_t>(o.position)).end_object();
            auto res = json_response(http::status::accepted, w.take());
            res.set(http::field::location, "/api/requests/" + id.to_string());
            return ex->respond(std::move(res));
        }
        if (o.status != submit_status::ok && had_files) blobs->remove_request(id);
        switch (o.status) {
        case submit_status::unknown_space:
            return ex->respond(error_response(http::status::not_found, "unknown_space", "no such space"));
        case submit_status::queue_full: {
            auto res = error_response(http::status::too_many_requests, "queue_full", "the space's queue is full");
            res.set(http::field::retry_after, std::to_string(std::max<std::uint32_t>(1, o.retry_after_s)));
            return ex->respond(std::move(res));
        }
        case submit_status::duplicate_id:
            return ex->respond(error_response(http::status::conflict, "conflict", "duplicate request id"));
        case submit_status::ok: {
            // Accepted by the core but not durable: it was withdrawn, so
            // nothing of it runs or stays. Say so, and when to come back.
            if (had_files) blobs->remove_request(id);
            auto res = error_response(http::status::service_unavailable, "store_unavailable",
                                      "the broker cannot store new requests right now (disk full or I/O error); "
                                      "nothing was accepted: retry later");
            res.set(http::field::retry_after, "5");
            return ex->respond(std::move(res));
        }
        }
    });
}

void submit_api(api_services& s, api_call& call) {
    submission sub;
    if (call.req.form) {
        if (auto err = from_form_fields(call.req.form->fields, sub)) return call.reply(std::move(*err));
        sub.form = call.req.form;
    } else {
        if (auto err = from_json(call.req.msg.body(), sub)) return call.reply(std::move(*err));
    }
    submit(s, call, call.params[0], std::move(sub));
}

// The seed system's form post: field "prompt" (urlencoded, multipart or JSON).
void submit_seed(api_services& s, api_call& call) {
    submission sub;
    auto ct = call.header(http::field::content_type);
    if (call.req.form) {
        if (auto err = from_form_fields(call.req.form->fields, sub)) return call.reply(std::move(*err));
        sub.form = call.req.form;
    } else if (ct.starts_with("application/x-www-form-urlencoded")) {
        if (auto err = from_form_fields(parse_urlencoded(call.req.msg.body()), sub)) return call.reply(std::move(*err));
    } else {
        if (auto err = from_json(call.req.msg.body(), sub)) return call.reply(std::move(*err));
    }
    submit(s, call, call.params[0], std::move(sub));
}

} // namespace

void add_submit_routes(router& r) {
    // Non-blocking for JSON bodies (multipart ones always run on the pool:
    // moving their files is disk work).
    r.add_non_blocking(http::verb::post, "/api/spaces/{space}/requests", access::user, submit_api);
    r.add(http::verb::post, "/websockets/submit/{space}", access::user, submit_seed);
}

} // namespace tether::broker::api

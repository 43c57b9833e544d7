// Reading and steering requests: GET /api/spaces, GET /api/requests[/{id}],
// the SSE stream, cancel, output files, and the seed status path.
#include "api/api_handler.hpp"
#include "api/json_helpers.hpp"
#include "api/request_access.hpp"
#include "api/stream_registry.hpp"

#include "tether/shared/log.hpp"

#include <cctype>
#include <charconv>

namespace tether::broker::api {

namespace http = boost::beast::http;

namespace {

net::string_response not_found() {
    return error_response(http::status::not_found, "not_found", "no such request");
}

void list_spaces(api_services& s, api_call& call) {
    auto spaces = s.core.call([](broker_core& c) { return c.list_spaces(); });
    protocol::json_writer w;
    w.begin_object().key("spaces").begin_array();
    for (const auto& sp : spaces) write_space(w, sp);
    w.end_array().end_object();
    call.reply(json_response(http::status::ok, w.take()));
}

void get_request(api_services& s, api_call& call, std::string_view id) {
    auto found = find_request_for(s, call.who, id);
    if (!found) return call.reply(missing_request(s, call.who, id));
    call.reply(json_response(http::status::ok, request_json(found->record, found->position)));
}

void get_request_api(api_services& s, api_call& call) { get_request(s, call, call.params[0]); }

void seed_status(api_services& s, api_call& call) {
    auto id = call.query_param("request_id");
    if (!id) return call.reply(error_response(http::status::bad_request, "bad_request", "request_id is required"));
    get_request(s, call, *id);
}

std::uint64_t parse_u64(std::string_view text) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size()) return 0;
    return v;
}

// Non-blocking: one step on the core strand (replay, then subscribe, so
// nothing published in between is lost), which answers from there. Only a
// request the core has let go (finished a while ago) needs the store, and
// that read goes to the worker pool.
void events(api_services& s, api_call& call) {
    auto id = uuid::parse(call.params[0]);
    if (!id) return call.reply(not_found());
    std::uint64_t last = parse_u64(call.header("Last-Event-ID"));
    if (last == 0)
        if (auto q = call.query_param("last_event_id")) last = parse_u64(*q);
    s.core.post([&s, id = *id, last, who = call.who, ex = call.ex](broker_core& c) mutable {
        auto channel = std::make_shared<net::sse_channel>();
        if (const auto* r = c.find(id)) {
            if (!may_see(who, *r)) return ex->respond(not_found());
            for (const auto& e : c.events_since(id, last)) channel->push_event(e.id, e.type, e.data_json);
            if (is_terminal(r->state)) {
                channel->finish();
            } else {
                s.core.add_watcher(c, id, channel);
                if (s.streams != nullptr) s.streams->add(who, channel, write_revoked_event);
            }
            return ex->respond_events(std::move(channel));
        }
        // The core let it go: it finished a while ago. Serve its terminal event from the store.
        s.run_blocking([&s, id, last, who = std::move(who), ex = std::move(ex), channel = std::move(channel)] {
            auto stored = s.st.get_request(id);
            if (stored && !is_terminal(stored->state)) {
                // The core forgets a request only after it finished, but its
                // last snapshot may still be waiting for the writer: wait for
                // it rather than end the stream without the terminal event.
                s.st.flush();
                stored = s.st.get_request(id);
            }
            if (!stored || !may_see(who, *stored)) return ex->respond(missing_request(s, who, id.to_string()));
            // The terminal event under the id it had when it was published
            // (rows from before schema v4 have none: the next id then).
            const auto event_id = stored->last_event_id != 0 ? stored->last_event_id : last + 1;
            if (is_terminal(stored->state) && event_id > last)
                channel->push_event(event_id, to_string(stored->state), terminal_event_json(*stored));
            channel->finish();
            ex->respond_events(channel);
        });
    });
}

void cancel(api_services& s, api_call& call) {
    auto found = find_request_for(s, call.who, call.params[0]);
    if (!found) return call.reply(missing_request(s, call.who, call.params[0]));
    auto id = found->record.id;
    auto outcome = s.core.call([&](broker_core& c) { return c.cancel(id, "user"); });
    switch (outcome) {
    case cancel_outcome::ok: {
        protocol::json_writer w;
        w.begin_object().key("request_id").value(id.to_string()).key("status").value("cancelled").end_object();
        return call.reply(json_response(http::status::ok, w.take()));
    }
    case cancel_outcome::not_found:
        if (is_terminal(found->record.state))
            return call.reply(error_response(http::status::conflict, "already_finished", "the request has finished"));
        return call.reply(not_found());
    case cancel_outcome::already_finished:
        return call.reply(error_response(http::status::conflict, "already_finished", "the request has finished"));
    }
}

// The agent names its files; keep only characters that cannot break the header.
std::string safe_filename(std::string_view name, std::uint64_t blob) {
    std::string out;
    for (char c : name)
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') out += c;
    if (out.empty() || out.front() == '.') out = "file-" + std::to_string(blob);
    return out.substr(0, 128);
}

void output_file(api_services& s, api_call& call) {
    auto found = find_request_for(s, call.who, call.params[0]);
    if (!found) return call.reply(missing_request(s, call.who, call.params[0]));
    auto blob = parse_u64(call.params[1]);
    const stored_file* file = nullptr;
    for (const auto& f : found->record.outputs)
        if (f.blob == blob) file = &f;
    if (file == nullptr) return call.reply(error_response(http::status::not_found, "not_found", "no such file"));
    net::file_response res{http::status::ok, 11};
    boost::beast::error_code ec;
    res.body().open(file->path.c_str(), boost::beast::file_mode::scan, ec);
    if (ec) {
        log::error("cannot open output {}: {}", file->path, ec.message());
        return call.reply(error_response(http::status::not_found, "not_found", "file is gone"));
    }
    // Agent output is untrusted: never let a browser render it as our page.
    res.set(http::field::content_type, file->mime.empty() ? "application/octet-stream" : file->mime);
    res.set(http::field::content_disposition, "attachment; filename=\"" + safe_filename(file->name, blob) + "\"");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Content-Security-Policy", "sandbox");
    res.set(http::field::cache_control, "private, no-store");
    res.prepare_payload();
    call.ex->respond_file(std::move(res));
}

void list_requests(api_services& s, api_call& call) {
    request_query q;
    auto all = call.query_param("all");
    bool want_all = all && (*all == "1" || *all == "true");
    if (want_all && !call.who.admin())
        return call.reply(error_response(http::status::forbidden, "forbidden", "admins only"));
    if (!want_all) q.username = call.who.user->name;
    if (auto sp = call.query_param("space")) q.space = *sp;
    if (auto l = call.query_param("limit")) {
        auto n = parse_u64(*l);
        if (n == 0) return call.reply(error_response(http::status::bad_request, "bad_request", "bad limit"));
        q.limit = std::min<std::uint64_t>(n, max_request_page);
    }
    if (auto c = call.query_param("cursor")) q.cursor = *c;
    auto page = s.st.list_requests(q);
    if (page.status == store_status::invalid)
        return call.reply(error_response(http::status::bad_request, "bad_request", "bad cursor"));
    if (page.status != store_status::ok)
        return call.reply(error_response(http::status::internal_server_error, "internal", "cannot read requests"));
    // Live state is fresher than the last committed snapshot.
    std::vector<std::optional<found_request>> live(page.records.size());
    s.core.call([&](broker_core& c) {
        for (std::size_t i = 0; i < page.records.size(); ++i)
            if (const auto* r = c.find(page.records[i].id)) live[i] = found_request{*r, c.position(r->id), true};
    });
    protocol::json_writer w;
    w.begin_object().key("requests").begin_array();
    for (std::size_t i = 0; i < page.records.size(); ++i) {
        if (live[i]) write_request(w, live[i]->record, live[i]->position);
        else write_request(w, page.records[i], std::nullopt);
    }
    w.end_array();
    if (page.next_cursor.empty()) w.key("next_cursor").null();
    else w.key("next_cursor").value(page.next_cursor);
    w.end_object();
    call.reply(json_response(http::status::ok, w.take()));
}

} // namespace

void add_request_routes(router& r) {
    r.add(http::verb::get, "/api/spaces", access::user, list_spaces);
    r.add(http::verb::get, "/api/requests", access::user, list_requests);
    r.add(http::verb::get, "/api/requests/{id}", access::user, get_request_api);
    r.add(http::verb::delete_, "/api/requests/{id}", access::user, cancel);
    r.add_non_blocking(http::verb::get, "/api/requests/{id}/events", access::user, events);
    r.add(http::verb::get, "/api/requests/{id}/files/{blob}", access::user, output_file);
    r.add(http::verb::get, "/websockets/status", access::user, seed_status);
}

} // namespace tether::broker::api

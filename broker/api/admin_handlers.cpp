// /api/admin/…: spaces (create, edit, delete, rotate token), connected
// agents, users and API keys. Every route here is admin-only (router access).
#include "api/api_handler.hpp"
#include "api/json_helpers.hpp"

#include <charconv>

namespace tether::broker::api {

namespace http = boost::beast::http;

namespace {

net::string_response bad(std::string_view message) {
    return error_response(http::status::bad_request, "bad_request", message);
}

net::string_response from_status(store_status st, std::string_view what) {
    switch (st) {
    case store_status::ok: return json_response(http::status::ok, R"({"ok":true})");
    case store_status::not_found: return error_response(http::status::not_found, "not_found", std::string("no such ") + std::string(what));
    case store_status::already_exists: return error_response(http::status::conflict, "conflict", std::string(what) + " already exists");
    case store_status::invalid: return bad(std::string("invalid ") + std::string(what));
    case store_status::failed: break;
    }
    return error_response(http::status::internal_server_error, "internal", "store error");
}

// Reads the editable fields of a space from a JSON body into `c`.
std::optional<net::string_response> read_space_fields(simdjson::dom::object o, space_config& c) {
    bool wrong = false;
    if (auto d = string_field(o, "description", wrong)) c.description = *d;
    if (wrong) return bad("description must be a string");
    simdjson::dom::element f;
    if (!o.at_key("features").get(f) && !f.is_null()) {
        std::string list;
        std::string_view text;
        simdjson::dom::array arr;
        if (!f.get_string().get(text)) {
            list = std::string(text);
        } else if (!f.get_array().get(arr)) {
            for (auto item : arr) {
                std::string_view name;
                if (item.get_string().get(name)) return bad("features must be names");
                if (!list.empty()) list += ',';
                list += name;
            }
        } else {
            return bad("features must be a list");
        }
        std::string err;
        std::uint32_t bits = 0;
        if (!parse_features(list, bits, err) || bits == 0) return bad(err.empty() ? "no features" : err);
        c.features = bits;
    }
    auto t = int_field(o, "timeout_s", wrong);
    if (!t) t = int_field(o, "timeout", wrong);
    if (wrong || (t && (*t <= 0 || *t > 7 * 24 * 3600))) return bad("timeout_s must be a positive number of seconds");
    if (t) c.timeout_s = static_cast<std::uint32_t>(*t);
    auto q = int_field(o, "queue_limit", wrong);
    if (wrong || (q && (*q <= 0 || *q > 1'000'000))) return bad("queue_limit must be a positive number");
    if (q) c.queue_limit = static_cast<std::uint32_t>(*q);
    return std::nullopt;
}

void reply_space(api_services& s, api_call& call, const std::string& name, http::status status,
                 const std::string* token) {
    auto view = s.core.call([&](broker_core& c) { return c.view_space(name); });
    protocol::json_writer w;
    w.begin_object().key("space");
    if (view) write_space(w, *view);
    else w.null();
    if (token) w.key("token").value(*token);
    w.end_object();
    call.reply(json_response(status, w.take()));
}

// Applies what the store now says to the core and the open streams (a new
// token hash closes the agent of the old one, a removed user's streams end)
// before the answer goes out.
void sync(api_services& s) {
    if (s.sync_config) s.sync_config();
}

void create_space(api_services& s, api_call& call) {
    simdjson::dom::parser p;
    std::string err;
    auto o = parse_object(p, call.req.msg.body(), err);
    if (!o) return call.reply(bad(err));
    bool wrong = false;
    auto name = string_field(*o, "name", wrong);
    if (wrong || !name || !valid_space_name(*name)) return call.reply(bad("name must match [A-Za-z0-9_.-]{1,64}"));
    space_config c;
    c.name = *name;
    if (auto e = read_space_fields(*o, c)) return call.reply(std::move(*e));
    auto res = s.st.add_space(c);
    if (!res.ok()) return call.reply(from_status(res.status, "space"));
    sync(s);
    reply_space(s, call, c.name, http::status::created, &res.secret);
}

void edit_space(api_services& s, api_call& call) {
    auto current = s.st.get_space(call.params[0]);
    if (!current) return call.reply(from_status(store_status::not_found, "space"));
    simdjson::dom::parser p;
    std::string err;
    auto o = parse_object(p, call.req.msg.body(), err);
    if (!o) return call.reply(bad(err));
    if (auto e = read_space_fields(*o, *current)) return call.reply(std::move(*e));
    auto st = s.st.update_space(*current);
    if (st != store_status::ok) return call.reply(from_status(st, "space"));
    sync(s);
    reply_space(s, call, current->name, http::status::ok, nullptr);
}

void delete_space(api_services& s, api_call& call) {
    auto st = s.st.delete_space(call.params[0]);
    if (st != store_status::ok) return call.reply(from_status(st, "space"));
    sync(s);
    call.reply(json_response(http::status::ok, R"({"ok":true})"));
}

void rotate_token(api_services& s, api_call& call) {
    auto res = s.st.rotate_space_token(call.params[0]);
    if (!res.ok()) return call.reply(from_status(res.status, "space"));
    sync(s);
    reply_space(s, call, call.params[0], http::status::ok, &res.secret);
}

void list_spaces(api_services& s, api_call& call) {
    auto spaces = s.core.call([](broker_core& c) { return c.list_spaces(); });
    protocol::json_writer w;
    w.begin_object().key("spaces").begin_array();
    for (const auto& sp : spaces) write_space(w, sp);
    w.end_array().end_object();
    call.reply(json_response(http::status::ok, w.take()));
}

void list_agents(api_services& s, api_call& call) {
    auto agents = s.core.call([](broker_core& c) { return c.list_agents(); });
    protocol::json_writer w;
    w.begin_object().key("agents").begin_array();
    for (const auto& a : agents) {
        w.begin_object().key("conn").value(a.conn).key("name").value(a.agent.name).key("version").value(a.agent.version);
        w.key("instance").value(a.agent.instance).key("spaces").begin_array();
        for (const auto& sp : a.spaces) w.value(sp);
        w.end_array().key("in_flight").value(static_cast<std::uint64_t>(a.in_flight));
        w.key("connected_since").value(format_rfc3339(a.connected_since)).key("draining").value(a.draining);
        w.end_object();
    }
    w.end_array().end_object();
    call.reply(json_response(http::status::ok, w.take()));
}

void write_user(protocol::json_writer& w, const user_record& u) {
    w.begin_object().key("name").value(u.name).key("admin").value(u.admin).key("disabled").value(u.disabled);
    w.key("created").value(format_rfc3339(u.created)).end_object();
}

void list_users(api_services& s, api_call& call) {
    protocol::json_writer w;
    w.begin_object().key("users").begin_array();
    for (const auto& u : s.st.list_users()) write_user(w, u);
    w.end_array().end_object();
    call.reply(json_response(http::status::ok, w.take()));
}

void create_user(api_services& s, api_call& call) {
    simdjson::dom::parser p;
    std::string err;
    auto o = parse_object(p, call.req.msg.body(), err);
    if (!o) return call.reply(bad(err));
    bool wrong = false;
    auto name = string_field(*o, "name", wrong);
    if (!name) name = string_field(*o, "username", wrong);
    auto password = string_field(*o, "password", wrong);
    auto admin = bool_field(*o, "admin", wrong);
    if (wrong || !name || !password || password->empty()) return call.reply(bad("name and password are required"));
    auto st = s.st.add_user(*name, *password, admin.value_or(false));
    if (st != store_status::ok) return call.reply(from_status(st, "user"));
    auto u = s.st.get_user(*name);
    protocol::json_writer w;
    w.begin_object().key("user");
    if (u) write_user(w, *u);
    else w.null();
    w.end_object();
    call.reply(json_response(http::status::created, w.take()));
}

void edit_user(api_services& s, api_call& call) {
    simdjson::dom::parser p;
    std::string err;
    auto o = parse_object(p, call.req.msg.body(), err);
    if (!o) return call.reply(bad(err));
    bool wrong = false;
    auto password = string_field(*o, "password", wrong);
    auto admin = bool_field(*o, "admin", wrong);
    auto disabled = bool_field(*o, "disabled", wrong);
    if (wrong || (password && password->empty()))
        return call.reply(bad("password must be a non-empty string; admin and disabled true or false"));
    if (!s.st.get_user(call.params[0])) return call.reply(from_status(store_status::not_found, "user"));
    if (disabled && *disabled && call.who.user->name == call.params[0])
        return call.reply(bad("you cannot disable your own account"));
    if (password)
        if (auto st = s.st.set_password(call.params[0], *password); st != store_status::ok)
            return call.reply(from_status(st, "user"));
    if (admin)
        if (auto st = s.st.set_admin(call.params[0], *admin); st != store_status::ok)
            return call.reply(from_status(st, "user"));
    if (disabled)
        if (auto st = s.st.set_disabled(call.params[0], *disabled); st != store_status::ok)
            return call.reply(from_status(st, "user"));
    sync(s);
    call.reply(json_response(http::status::ok, R"({"ok":true})"));
}

void delete_user(api_services& s, api_call& call) {
    const auto st = s.st.delete_user(call.params[0]);
    if (st == store_status::ok) sync(s);
    call.reply(from_status(st, "user"));
}

void list_keys(api_services& s, api_call& call) {
    auto user = call.query_param("user");
    auto keys = user ? s.st.list_api_keys(*user) : s.st.list_all_api_keys();
    protocol::json_writer w;
    w.begin_object().key("api_keys").begin_array();
    for (const auto& k : keys)
        w.begin_object().key("id").value(k.id).key("prefix").value(k.prefix).key("username").value(k.username)
            .key("created").value(format_rfc3339(k.created)).end_object();
    w.end_array().end_object();
    call.reply(json_response(http::status::ok, w.take()));
}

void create_key(api_services& s, api_call& call) {
    simdjson::dom::parser p;
    std::string err;
    auto o = parse_object(p, call.req.msg.body(), err);
    if (!o) return call.reply(bad(err));
    bool wrong = false;
    auto user = string_field(*o, "username", wrong);
    if (!user) user = string_field(*o, "user", wrong);
    if (wrong || !user) return call.reply(bad("username is required"));
    if (!s.st.get_user(*user)) return call.reply(from_status(store_status::not_found, "user"));
    auto res = s.st.create_api_key(*user);
    if (!res.ok()) return call.reply(from_status(res.status, "user"));
    protocol::json_writer w;
    w.begin_object().key("key").value(res.secret).key("username").value(*user);
    for (const auto& k : s.st.list_api_keys(*user))
        if (res.secret.starts_with(k.prefix)) w.key("id").value(k.id).key("prefix").value(k.prefix);
    w.end_object();
    call.reply(json_response(http::status::created, w.take()));
}

void revoke_key(api_services& s, api_call& call) {
    std::int64_t id = 0;
    const auto& t = call.params[0];
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), id);
    if (ec != std::errc{} || ptr != t.data() + t.size()) return call.reply(bad("bad key id"));
    const auto st = s.st.revoke_api_key(id);
    if (st == store_status::ok) sync(s);
    call.reply(from_status(st, "API key"));
}

} // namespace

void add_admin_routes(router& r) {
    r.add(http::verb::get, "/api/admin/spaces", access::admin, list_spaces);
    r.add(http::verb::post, "/api/admin/spaces", access::admin, create_space);
    r.add(http::verb::put, "/api/admin/spaces/{space}", access::admin, edit_space);
    r.add(http::verb::patch, "/api/admin/spaces/{space}", access::admin, edit_space);
    r.add(http::verb::delete_, "/api/admin/spaces/{space}", access::admin, delete_space);
    r.add(http::verb::post, "/api/admin/spaces/{space}/token", access::admin, rotate_token);
    r.add(http::verb::get, "/api/admin/agents", access::admin, list_agents);
    r.add(http::verb::get, "/api/admin/users", access::admin, list_users);
    r.add(http::verb::post, "/api/admin/users", access::admin, create_user);
    r.add(http::verb::put, "/api/admin/users/{user}", access::admin, edit_user);
    r.add(http::verb::patch, "/api/admin/users/{user}", access::admin, edit_user);
    r.add(http::verb::delete_, "/api/admin/users/{user}", access::admin, delete_user);
    r.add(http::verb::get, "/api/admin/apikeys", access::admin, list_keys);
    r.add(http::verb::post, "/api/admin/apikeys", access::admin, create_key);
    r.add(http::verb::delete_, "/api/admin/apikeys/{id}", access::admin, revoke_key);
}

} // namespace tether::broker::api

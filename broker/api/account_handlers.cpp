// POST /api/login, POST /api/logout, GET /api/me.
#include "api/api_handler.hpp"
#include "api/json_helpers.hpp"

#include "tether/shared/log.hpp"

namespace tether::broker::api {

namespace http = boost::beast::http;

namespace {

void write_user(protocol::json_writer& w, const user_record& u) {
    w.begin_object().key("name").value(u.name).key("username").value(u.name).key("admin").value(u.admin);
    w.key("created").value(format_rfc3339(u.created)).end_object();
}

void login(api_services& s, api_call& call) {
    simdjson::dom::parser parser;
    std::string err;
    auto obj = parse_object(parser, call.req.msg.body(), err);
    if (!obj) return call.reply(error_response(http::status::bad_request, "bad_request", err));
    bool bad = false;
    auto name = string_field(*obj, "username", bad);
    auto password = string_field(*obj, "password", bad);
    if (bad || !name || !password)
        return call.reply(error_response(http::status::bad_request, "bad_request", "username and password are required"));
    auto user = s.st.verify_login(*name, *password);
    if (!user) {
        log::info("login failed for {:?} from {}", *name, call.req.remote);
        return call.reply(error_response(http::status::unauthorized, "invalid_credentials", "wrong username or password"));
    }
    if (user->disabled) {
        log::info("login refused for disabled user {} from {}", user->name, call.req.remote);
        return call.reply(error_response(http::status::forbidden, "account_disabled",
                                         "this account is disabled: ask an administrator to enable it"));
    }
    auto session = s.st.create_session(user->name);
    if (!session.ok()) return call.reply(error_response(http::status::internal_server_error, "internal", "cannot create a session"));
    protocol::json_writer w;
    w.begin_object().key("user");
    write_user(w, *user);
    w.end_object();
    auto res = json_response(http::status::ok, w.take());
    res.set(http::field::set_cookie, session_cookie(session.secret, s.options.tls, s.options.session_max_age_s));
    call.reply(std::move(res));
}

void logout(api_services& s, api_call& call) {
    if (call.who.how == auth_kind::cookie) s.st.delete_session(call.who.session_token);
    auto res = json_response(http::status::ok, R"({"ok":true})");
    res.set(http::field::set_cookie, clear_session_cookie(s.options.tls));
    call.reply(std::move(res));
}

void me(api_services&, api_call& call) {
    protocol::json_writer w;
    w.begin_object().key("user");
    write_user(w, *call.who.user);
    w.key("name").value(call.who.user->name).key("admin").value(call.who.user->admin);
    w.key("auth").value(call.who.how == auth_kind::bearer ? "api_key" : "cookie");
    w.end_object();
    call.reply(json_response(http::status::ok, w.take()));
}

} // namespace

void add_account_routes(router& r) {
    r.add(http::verb::post, "/api/login", access::anyone, login);
    r.add(http::verb::post, "/api/logout", access::anyone, logout);
    r.add(http::verb::get, "/api/me", access::user, me);
}

} // namespace tether::broker::api

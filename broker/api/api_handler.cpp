#include "api/api_handler.hpp"
#include "api/openai_format.hpp"

#include "api/json_helpers.hpp"

#include "tether/shared/log.hpp"

#include <boost/asio/post.hpp>

namespace tether::broker::api {

namespace http = boost::beast::http;

namespace {

bool changes_state(http::verb m) {
    return m == http::verb::post || m == http::verb::put || m == http::verb::patch || m == http::verb::delete_;
}

std::string_view sv(boost::beast::string_view s) { return {s.data(), s.size()}; }

// The CSRF rule: a state change made with a cookie (or a login, which is
// about to get one) must come from our own origin, or say no origin at all.
bool csrf_ok(const net::request_header& h, const caller& who, bool tls, std::string_view path) {
    if (!changes_state(h.method())) return true;
    if (who.how == auth_kind::bearer) return true;
    if (who.how != auth_kind::cookie && path != "/api/login") return true;
    return origin_allowed(sv(h[http::field::origin]), sv(h[http::field::host]), tls);
}

std::optional<net::string_response> check_access(access a, const caller& who) {
    if (a == access::anyone) return std::nullopt;
    if (who.bad_credentials) return error_response(http::status::unauthorized, "unauthorized", "invalid API key");
    if (!who.signed_in()) return error_response(http::status::unauthorized, "unauthorized", "sign in first");
    if (a == access::admin && !who.admin()) return error_response(http::status::forbidden, "forbidden", "admins only");
    return std::nullopt;
}

} // namespace

api_handler::api_handler(api_services services, std::size_t workers)
    : services_(std::move(services)), pool_(workers) {
    services_.run_blocking = [this](std::function<void()> f) { boost::asio::post(pool_, std::move(f)); };
    add_account_routes(router_);
    add_request_routes(router_);
    add_submit_routes(router_);
    add_openai_routes(router_);
    add_admin_routes(router_);
    add_ops_routes(router_);
}

api_handler::~api_handler() { stop(); }

void api_handler::stop() { pool_.join(); }

net::upload_admission api_handler::admit_upload(const net::request_header& header, bool tls) {
    net::upload_admission a;
    auto target = sv(header.target());
    auto path = target.substr(0, target.find('?'));
    auto m = router_.find(header.method(), path);
    const bool openai_upload = path == "/v1/audio/transcriptions" || path == "/v1/audio/translations";
    bool upload_route = m.found && ((path.starts_with("/api/spaces/") && path.ends_with("/requests")) ||
                                    path.starts_with("/websockets/submit/") || openai_upload);
    if (!upload_route) {
        a.refusal = m.found || m.path_known
                        ? error_response(http::status::unsupported_media_type, "bad_request",
                                         "multipart bodies are accepted only for submissions")
                        : error_response(http::status::not_found, "not_found", "no such endpoint");
        return a;
    }
    auto who = resolve_caller(services_.st, header);
    if (openai_upload && !who.signed_in()) {
        // Refused before a byte of the file is read, in OpenAI's shape.
        openai_error e{http::status::unauthorized, "", "invalid_request_error", "", "invalid_api_key"};
        e.message = who.bad_credentials ? "Incorrect API key provided."
                                        : "No API key provided: send 'Authorization: Bearer <key>'.";
        a.refusal = openai_error_response(e);
        a.refusal->set(http::field::www_authenticate, "Bearer");
        return a;
    }
    if (auto refusal = check_access(m.found->who, who)) {
        a.refusal = std::move(refusal);
        return a;
    }
    if (!csrf_ok(header, who, tls, path)) {
        a.refusal = error_response(http::status::forbidden, "forbidden", "cross-origin request refused");
        return a;
    }
    if (services_.draining->load()) {
        a.refusal = error_response(http::status::service_unavailable, "draining", "the broker is shutting down");
        return a;
    }
    a.max_bytes = services_.options.max_upload;
    a.spool_dir = services_.options.spool_dir.string();
    return a;
}

void api_handler::handle(net::incoming_request req, std::shared_ptr<net::http_exchange> exchange) {
    // The hot calls (submit a JSON request, watch its events) run right here,
    // on the io thread that read them, when their handler never blocks and the
    // caller is known without a database read: a hand-off to the worker pool
    // and back cost two thread wake-ups per call (bench/README.md). Anything
    // else (uploads, store reads, an unknown key) goes to the pool.
    // The route is found once, here; run() gets it.
    auto target = sv(req.msg.target());
    auto m = router_.find(req.msg.method(), target.substr(0, target.find('?')));
    if (!req.form && m.found && m.found->non_blocking) {
        if (auto who = resolve_caller_cached(services_.st, req.msg.base()))
            return run(std::move(req), std::move(exchange), std::move(m), std::move(who));
    }
    boost::asio::post(pool_, [this, r = std::move(req), ex = std::move(exchange), m = std::move(m)]() mutable {
        run(std::move(r), std::move(ex), std::move(m), std::nullopt);
    });
}

void api_handler::run(net::incoming_request req, std::shared_ptr<net::http_exchange> exchange, router::match m,
                      std::optional<caller> who) {
    api_call call;
    auto target = sv(req.msg.target());
    auto q = target.find('?');
    call.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) call.query = std::string(target.substr(q + 1));
    call.ex = std::move(exchange);
    bool tls = req.tls;
    call.req = std::move(req);

    if (m.bad_path) return call.reply(error_response(http::status::bad_request, "bad_request", "malformed path"));
    bool is_api = call.path.starts_with("/api/") || call.path.starts_with("/websockets/") || call.path.starts_with("/v1/") ||
                  call.path == "/api";
    if (!m.found) {
        if (m.path_known)
            return call.reply(error_response(http::status::method_not_allowed, "method_not_allowed",
                                             "method not allowed here"));
        if (is_api || call.req.msg.method() != http::verb::get)
            return call.reply(error_response(http::status::not_found, "not_found", "no such endpoint"));
        return serve_static(services_, call);
    }
    call.params = std::move(m.params);
    call.who = who ? std::move(*who) : resolve_caller(services_.st, call.req.msg.base());
    if (auto refusal = check_access(m.found->who, call.who)) return call.reply(std::move(*refusal));
    if (!csrf_ok(call.req.msg.base(), call.who, tls, call.path))
        return call.reply(error_response(http::status::forbidden, "forbidden", "cross-origin request refused"));
    try {
        m.found->handler(services_, call);
    } catch (const std::exception& e) {
        // Nothing a client sends may take the broker down; log and answer.
        log::error("handler for {} failed: {}", call.path, e.what());
        call.reply(error_response(http::status::internal_server_error, "internal", "internal error"));
    }
}

} // namespace tether::broker::api

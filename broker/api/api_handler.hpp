#pragma once
// The HTTP API as the network sessions see it (net::request_handler): runs
// each request on a small worker pool, resolves the caller, applies the
// CSRF rule, routes to the handlers, and falls back to static files.
// Holds no request state of its own.

#include "api/api_call.hpp"
#include "api/router.hpp"

#include <boost/asio/thread_pool.hpp>

#include <memory>
#include <optional>

namespace tether::broker::api {

class api_handler final : public net::request_handler {
public:
    api_handler(api_services services, std::size_t workers);
    ~api_handler() override;

    net::upload_admission admit_upload(const net::request_header& header, bool tls) override;
    void handle(net::incoming_request req, std::shared_ptr<net::http_exchange> exchange) override;
    std::uint64_t max_body_bytes() const override { return services_.options.max_json; }

    void stop(); // waits for running handlers

private:
    // `m`: the request's route (found by handle()); `who`: the caller when
    // already resolved (the inline path), else nullopt.
    void run(net::incoming_request req, std::shared_ptr<net::http_exchange> exchange, router::match m,
             std::optional<caller> who);

    api_services services_;
    router router_;
    boost::asio::thread_pool pool_;
};

// Route tables, one per handler family (request_handlers.cpp, admin_handlers.cpp, …).
void add_account_routes(router& r);
void add_request_routes(router& r);
void add_submit_routes(router& r);
void add_openai_routes(router& r);
void add_admin_routes(router& r);
void add_ops_routes(router& r);
// Static files from options.web_dir; answers 404 when there is no such file.
void serve_static(api_services& s, api_call& call);

} // namespace tether::broker::api

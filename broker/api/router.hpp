#pragma once
// Matches a method and path against route patterns ("/api/requests/{id}")
// and says which handler runs, with which path parameters, and who may call
// it. Pure: no I/O. A path that matches with another method is a 405.

#include "api/api_call.hpp"

#include <boost/beast/http/verb.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace tether::broker::api {

enum class access { anyone, user, admin };

struct route {
    boost::beast::http::verb method;
    std::vector<std::string> segments; // "{…}" segments capture
    access who = access::user;
    handler_fn handler;
    // The handler never blocks (no store read, no wait on the core): it may
    // run on the io thread that read the request (api_handler::handle).
    bool non_blocking = false;
};

class router {
public:
    void add(boost::beast::http::verb method, std::string_view pattern, access who, handler_fn handler);
    // For handlers that never block; see route::non_blocking.
    void add_non_blocking(boost::beast::http::verb method, std::string_view pattern, access who, handler_fn handler);

    struct match {
        const route* found = nullptr;  // null: no route for this method
        bool path_known = false;       // some route has this path (405 rather than 404)
        std::vector<std::string> params;
        bool bad_path = false;         // undecodable path segment
    };
    match find(boost::beast::http::verb method, std::string_view path) const;

private:
    std::vector<route> routes_;
};

std::vector<std::string_view> split_path(std::string_view path);

} // namespace tether::broker::api

// Pure pieces of the HTTP API: cookies, bearer tokens, the Origin rule (CSRF)
// and route matching with path parameters.
#include "api/auth.hpp"
#include "api/router.hpp"

#include <catch2/catch.hpp>

namespace http = boost::beast::http;
using namespace tether::broker::api;

TEST_CASE("the session cookie is found among others", "[net][auth]") {
    CHECK(cookie_value("a=1; tether_session=abc; b=2", "tether_session") == std::optional<std::string>("abc"));
    CHECK(cookie_value("tether_sessionx=1", "tether_session") == std::nullopt);
    CHECK(cookie_value("", "tether_session") == std::nullopt);
}

TEST_CASE("a bearer token needs the Bearer scheme", "[net][auth]") {
    CHECK(bearer_token("Bearer tk_1") == std::optional<std::string>("tk_1"));
    CHECK(bearer_token("bearer   tk_1 ") == std::optional<std::string>("tk_1"));
    CHECK(bearer_token("Basic abc") == std::nullopt);
    CHECK(bearer_token("Bearer ") == std::nullopt);
}

TEST_CASE("cookie-authenticated changes must come from our own origin", "[net][auth]") {
    CHECK(origin_allowed("", "localhost:8080", false));
    CHECK(origin_allowed("http://localhost:8080", "localhost:8080", false));
    CHECK_FALSE(origin_allowed("http://evil.example", "localhost:8080", false));
    CHECK_FALSE(origin_allowed("http://localhost:8080", "localhost:8080", true));
    CHECK(origin_allowed("https://localhost:8080", "localhost:8080", true));
    CHECK_FALSE(origin_allowed("null", "localhost:8080", false));
}

TEST_CASE("the session cookie is HttpOnly, SameSite=Strict, and Secure under TLS", "[net][auth]") {
    auto plain = session_cookie("t", false, 60);
    CHECK(plain.find("HttpOnly") != std::string::npos);
    CHECK(plain.find("SameSite=Strict") != std::string::npos);
    CHECK(plain.find("Secure") == std::string::npos);
    CHECK(session_cookie("t", true, 60).find("Secure") != std::string::npos);
}

TEST_CASE("routes match with decoded parameters, and a known path with another method is 405", "[net][router]") {
    router r;
    int hit = 0;
    r.add(http::verb::get, "/api/requests/{id}/files/{blob}", access::user, [&](api_services&, api_call&) { hit = 1; });
    r.add(http::verb::post, "/api/spaces/{space}/requests", access::user, [&](api_services&, api_call&) { hit = 2; });

    auto m = r.find(http::verb::get, "/api/requests/abc/files/7");
    REQUIRE(m.found != nullptr);
    CHECK(m.params == std::vector<std::string>{"abc", "7"});

    auto sp = r.find(http::verb::post, "/api/spaces/My%20Space/requests");
    REQUIRE(sp.found != nullptr);
    CHECK(sp.params == std::vector<std::string>{"My Space"});

    auto wrong = r.find(http::verb::delete_, "/api/spaces/x/requests");
    CHECK(wrong.found == nullptr);
    CHECK(wrong.path_known);

    auto none = r.find(http::verb::get, "/api/nothing");
    CHECK(none.found == nullptr);
    CHECK_FALSE(none.path_known);

    CHECK(r.find(http::verb::post, "/api/spaces/%zz/requests").bad_path);
}

TEST_CASE("percent decoding refuses broken escapes", "[net][router]") {
    CHECK(percent_decode("a%41+b", true) == std::optional<std::string>("aA b"));
    CHECK(percent_decode("a+b", false) == std::optional<std::string>("a+b"));
    CHECK(percent_decode("%4", false) == std::nullopt);
    CHECK(percent_decode("%", false) == std::nullopt);
}

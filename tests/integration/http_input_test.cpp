// The HTTP API against bad and hostile input: authentication, unknown things,
// malformed bodies, limits (413, 429), uploads a space does not accept, path
// traversal on static files, and a slow client that must not block others.
#include "integration/itest_broker.hpp"

#include "testkit/multipart_body.hpp"
#include "testkit/raw_connection.hpp"

#include <atomic>
#include <thread>

using namespace tether::itest;

namespace {

// Every error answer has the documented shape.
void check_error_shape(const http_response& r) {
    auto doc = r.json();
    INFO(r.describe());
    CHECK(doc.ok());
    CHECK(!doc.str("/error/code").empty());
    CHECK(doc.string("/error/message").has_value());
}

} // namespace

TEST_CASE("the API answers 401 to a caller that has not signed in", "[http]") {
    itest_broker t;
    auto anon = t.broker.client();
    auto me = anon.get("/api/me");
    CHECK(me.status == 401);
    check_error_shape(me);
    CHECK(anon.get("/api/requests").status == 401);
    auto submit = anon.post_json("/api/spaces/echo/requests", R"({"prompt":"hi"})");
    CHECK(submit.status == 401);
    check_error_shape(submit);
    auto bad_key = t.broker.client();
    bad_key.set_bearer("not-a-real-api-key-0123456789abcdef");
    CHECK(bad_key.get("/api/me").status == 401);
}

TEST_CASE("a wrong password is refused and a right one gives a strict HttpOnly session", "[http][auth]") {
    itest_broker t;
    auto c = t.broker.client();
    auto wrong = c.login("alice", "not-her-password");
    CHECK(wrong.status == 401);
    check_error_shape(wrong);
    CHECK(c.get("/api/me").status == 401);
    auto nobody = c.login("mallory", "whatever-password");
    CHECK(nobody.status == 401);

    auto right = c.login("alice", alice_password);
    INFO(right.describe());
    REQUIRE(right.status == 200);
    REQUIRE(!c.last_set_cookie().empty());
    const std::string cookie = c.last_set_cookie().front();
    CHECK(cookie.find("HttpOnly") != std::string::npos);
    CHECK(cookie.find("SameSite=Strict") != std::string::npos);
    auto me = c.get("/api/me");
    INFO(me.describe());
    CHECK(me.status == 200);
    CHECK(me.body.find("alice") != std::string::npos);

    auto out = c.post("/api/logout", "", "application/json");
    CHECK(out.status / 100 == 2);
    CHECK(c.get("/api/me").status == 401);
}

TEST_CASE("an API key works as a Bearer token", "[http][auth]") {
    tether::testkit::broker_process b(build_broker_paths());
    b.add_user("alice", alice_password);
    b.add_space("echo");
    const std::string key = b.add_api_key("alice");
    b.start();
    auto c = b.client();
    c.set_bearer(key);
    auto me = c.get("/api/me");
    INFO(me.describe());
    CHECK(me.status == 200);
    CHECK(me.body.find("alice") != std::string::npos);
    auto r = c.post_json("/api/spaces/echo/requests", R"({"prompt":"by key"})");
    INFO(r.describe());
    CHECK(r.status == 202);
}

TEST_CASE("a revoked API key is refused at once, also on the calls served from the key cache", "[http][auth]") {
    // Submit and watch run on the io thread when the key is known in memory;
    // revoking it must end that at once, not when the cached entry expires.
    tether::testkit::broker_process b(build_broker_paths());
    b.add_user("root", alice_password, true);
    b.add_user("alice", alice_password);
    b.add_space("echo");
    const std::string admin_key = b.add_api_key("root");
    const std::string key = b.add_api_key("alice");
    b.start();
    auto alice = b.client();
    alice.set_bearer(key);
    std::string id;
    for (int i = 0; i < 3; ++i) { // the first call reads the store, the next ones hit the cache
        auto r = alice.post_json("/api/spaces/echo/requests", R"({"prompt":"by key"})");
        INFO(r.describe());
        REQUIRE(r.status == 202);
        id = r.json().str("/request_id");
    }
    REQUIRE(alice.get("/api/requests/" + id).status == 200);

    auto root = b.client();
    root.set_bearer(admin_key);
    auto keys = root.get("/api/admin/apikeys?user=alice");
    INFO(keys.describe());
    REQUIRE(keys.status == 200);
    const auto key_id = keys.json().integer("/api_keys/0/id");
    REQUIRE(key_id);
    REQUIRE(root.del("/api/admin/apikeys/" + std::to_string(*key_id)).status / 100 == 2);

    auto refused = alice.post_json("/api/spaces/echo/requests", R"({"prompt":"after revoke"})");
    INFO(refused.describe());
    CHECK(refused.status == 401);
    CHECK(alice.get("/api/requests/" + id + "/events").status == 401);
    CHECK(alice.get("/api/me").status == 401);
}

TEST_CASE("unknown spaces, bad space names and other users' requests are not found", "[http]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto bob = t.signed_in("bob");

    auto unknown = alice.post_json("/api/spaces/nosuchspace/requests", R"({"prompt":"hi"})");
    CHECK(unknown.status == 404);
    check_error_shape(unknown);

    auto bad_name = alice.post_json("/api/spaces/bad%20name!/requests", R"({"prompt":"hi"})");
    CHECK((bad_name.status == 400 || bad_name.status == 404));
    auto too_long = alice.post_json("/api/spaces/" + std::string(65, 'a') + "/requests", R"({"prompt":"hi"})");
    CHECK((too_long.status == 400 || too_long.status == 404));

    const std::string id = t.submit(alice, "mine");
    auto theirs = bob.get("/api/requests/" + id);
    CHECK(theirs.status == 404);
    CHECK(theirs.body.find("mine") == std::string::npos);
    auto their_events = bob.get("/api/requests/" + id + "/events");
    CHECK(their_events.status == 404);
    auto their_cancel = bob.del("/api/requests/" + id);
    CHECK((their_cancel.status == 404 || their_cancel.status == 403));
    CHECK(t.request_status(alice, id).str("/status") == "queued");

    CHECK(alice.get("/api/requests/00000000-0000-4000-8000-000000000000").status == 404);
    auto garbage_id = alice.get("/api/requests/not-a-uuid");
    CHECK((garbage_id.status == 400 || garbage_id.status == 404));
}

TEST_CASE("malformed JSON bodies are answered 400 with an error object", "[http]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    const std::vector<std::string> bodies = {R"({"prompt":)", "not json at all", R"(["prompt"])", R"({"prompt":42})",
                                   std::string("{\"prompt\":\"\xff\xfe\"}"), R"({"prompt":"x","params":"notobj"})"};
    for (const auto& body : bodies) {
        auto r = alice.post_json("/api/spaces/echo/requests", body);
        INFO("body: " << body);
        CHECK(r.status == 400);
        check_error_shape(r);
    }
    auto bad_login = t.broker.client().post_json("/api/login", "{{{");
    CHECK(bad_login.status == 400);
}

TEST_CASE("a JSON body over the limit is refused with 413", "[http][limits]") {
    broker_setup s;
    s.with_bob = false;
    itest_broker t(s);
    auto alice = t.signed_in("alice");
    // JSON bodies are bounded well below uploads (1 MiB by default).
    auto r = alice.post_json("/api/spaces/echo/requests",
                             "{\"prompt\":" + json_quote(std::string(3U << 20, 'a')) + "}");
    INFO(r.describe() << "\nstderr:\n" << t.broker.stderr_tail());
    CHECK(r.status == 413);
    CHECK(t.broker.running());
    t.submit(alice, std::string(1000, 'b')); // smaller ones still pass
}

TEST_CASE("an upload over --max-upload is refused with 413", "[http][limits][uploads]") {
    broker_setup s;
    s.with_bob = false;
    s.echo.features = "prompt,file";
    s.serve_args = {"--max-upload", "64KiB"};
    itest_broker t(s);
    auto alice = t.signed_in("alice");
    multipart_body big;
    big.field("prompt", "big").file("file", "big.bin", "application/octet-stream", std::string(512U << 10, 'z'));
    const std::string body = big.finish();
    auto r = alice.post("/api/spaces/echo/requests", body, big.content_type());
    INFO(r.describe() << "\nstderr:\n" << t.broker.stderr_tail());
    CHECK(r.status == 413);
    multipart_body small;
    small.field("prompt", "small").file("file", "small.bin", "application/octet-stream", std::string(1000, 'z'));
    const std::string small_body = small.finish();
    auto ok = alice.post("/api/spaces/echo/requests", small_body, small.content_type());
    INFO(ok.describe());
    CHECK(ok.status == 202);
}

TEST_CASE("a state-changing request with a session cookie from a foreign Origin is refused", "[http][auth]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto r = alice.request(boost::beast::http::verb::post, "/api/spaces/echo/requests", R"({"prompt":"csrf"})",
                           "application/json", {{"Origin", "http://evil.example"}});
    INFO(r.describe());
    CHECK(r.status == 403);
    auto same = alice.request(boost::beast::http::verb::post, "/api/spaces/echo/requests", R"({"prompt":"ok"})",
                              "application/json",
                              {{"Origin", "http://" + t.broker.host() + ":" + std::to_string(t.broker.port())}});
    INFO(same.describe());
    CHECK(same.status == 202);
}

TEST_CASE("a full queue answers 429 with Retry-After", "[http][limits]") {
    broker_setup s;
    s.echo.queue_limit = 2;
    s.with_bob = false;
    itest_broker t(s);
    auto alice = t.signed_in("alice");
    t.submit(alice, "one");
    t.submit(alice, "two");
    auto r = alice.post_json("/api/spaces/echo/requests", R"({"prompt":"three"})");
    INFO(r.describe());
    CHECK(r.status == 429);
    CHECK(!r.header("Retry-After").empty());
    check_error_shape(r);
}

TEST_CASE("a file in a field the space does not enable is refused with 400", "[http][uploads]") {
    itest_broker t; // echo: prompt only
    auto alice = t.signed_in("alice");
    multipart_body form;
    form.field("prompt", "with a file").file("audio", "a.wav", "audio/wav", std::string(1000, 'w'));
    const std::string body = form.finish();
    auto r = alice.post("/api/spaces/echo/requests", body, form.content_type());
    INFO(r.describe());
    CHECK(r.status == 400);
    check_error_shape(r);

    multipart_body broken;
    broken.field("prompt", "x");
    auto cut = broken.finish();
    cut.resize(cut.size() / 2); // no closing boundary
    auto r2 = alice.post("/api/spaces/echo/requests", cut, broken.content_type());
    CHECK(r2.status == 400);
}

TEST_CASE("path traversal on static files never serves files outside the web folder", "[http][hostile]") {
    itest_broker t;
    const std::vector<std::string> targets = {
        "/../../../../etc/passwd",         "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd",
        "/static/../../../../etc/passwd", "/%2E%2E/%2E%2E/etc/passwd",        "/....//....//etc/passwd",
        "/..\\..\\..\\etc\\passwd",       "/index.html%00.png"};
    for (const auto& target : targets) {
        raw_connection conn(t.broker.host(), t.broker.port());
        REQUIRE(conn.connect(2s));
        REQUIRE(conn.send("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 2s));
        auto raw = conn.read_until_close(5s);
        INFO("target " << target << " ->\n" << raw.substr(0, 300));
        const int status = raw_status(raw);
        CHECK((status == 400 || status == 404 || status == 403));
        CHECK(raw.find("root:") == std::string::npos);
    }
    CHECK(t.broker.running());
}

TEST_CASE("malformed HTTP requests get an error or a closed connection, never a crash", "[http][hostile]") {
    itest_broker t;
    const std::vector<std::string> inputs = {
        "GARBAGE\r\n\r\n",
        "GET / HTTP/9.9\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100000, 'a') + "\r\n\r\n",
        std::string("\0\0\0\0\xff\xfe\r\n\r\n", 10),
    };
    for (const auto& in : inputs) {
        raw_connection conn(t.broker.host(), t.broker.port());
        REQUIRE(conn.connect(2s));
        conn.send(in, 2s);
        auto raw = conn.read_until_close(5s);
        const int status = raw_status(raw);
        INFO("input " << in.substr(0, 60) << " ->\n" << raw.substr(0, 200));
        CHECK((status == 0 || (status >= 400 && status < 500)));
    }
    CHECK(t.broker.running());
    CHECK(t.broker.client().get("/healthz").status == 200);
}

TEST_CASE("a client sending its headers byte by byte does not block another client", "[http][hostile]") {
    itest_broker t;
    std::atomic<bool> stop{false};
    std::thread slow([&] {
        raw_connection conn(t.broker.host(), t.broker.port());
        if (!conn.connect(2s)) {
            return;
        }
        const std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 's');
        for (char ch : req) {
            if (stop || !conn.send(std::string(1, ch), 1s)) {
                return;
            }
            std::this_thread::sleep_for(10ms);
        }
    });
    std::this_thread::sleep_for(100ms); // let the slow client start dribbling
    auto c = t.broker.client();
    c.set_timeout(2s);
    for (int i = 0; i < 5; ++i) {
        auto r = c.get("/healthz");
        INFO(r.describe());
        CHECK(r.status == 200);
    }
    stop = true;
    slow.join();
}

TEST_CASE("healthz and metrics answer", "[http]") {
    itest_broker t;
    auto c = t.broker.client();
    CHECK(c.get("/healthz").status == 200);
    auto m = c.get("/metrics");
    INFO(m.describe());
    CHECK(m.status == 200);
    CHECK(m.header("Content-Type").rfind("text/plain", 0) == 0);
    CHECK(m.body.find("# TYPE") != std::string::npos);
}

TEST_CASE("the web page is served from the web folder", "[http]") {
    itest_broker t;
    auto c = t.broker.client();
    auto page = c.get("/");
    INFO(page.describe());
    CHECK(page.status == 200);
    CHECK(page.header("Content-Type").rfind("text/html", 0) == 0);
    CHECK(page.body.find("<html") != std::string::npos);
    CHECK(c.get("/style.css").status == 200);
    CHECK(c.get("/no-such-file.js").status == 404);
}

#pragma once
// The usual starting point of an integration test: a real broker with users
// admin, alice and bob and one space "echo", started and answering. Helpers
// for the few steps nearly every test repeats (sign in, submit, get an agent).
// Tests that need something else use broker_process directly.

#include "testkit/agent_client.hpp"
#include "testkit/broker_process.hpp"
#include "testkit/http_client.hpp"
#include "testkit/json_doc.hpp"
#include "testkit/sse_reader.hpp"
#include "testkit/wait.hpp"
#include "tether/shared/clock.hpp"
#include "tether/shared/ids.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tether::itest {

using namespace tether::testkit;
using namespace std::chrono_literals;

inline const std::string admin_password = "admin-pass-1234";
inline const std::string alice_password = "alice-pass-1234";
inline const std::string bob_password = "bob-pass-1234";

struct broker_setup {
    space_options echo;                   // the "echo" space
    std::vector<std::string> serve_args;  // extra flags for `serve`
    bool with_bob = true;
    std::vector<std::pair<std::string, space_options>> more_spaces; // tokens land in itest_broker::tokens
};

class itest_broker {
public:
    explicit itest_broker(broker_setup setup = {}) : broker(build_broker_paths()) {
        broker.add_user("admin", admin_password, true);
        broker.add_user("alice", alice_password);
        if (setup.with_bob) {
            broker.add_user("bob", bob_password);
        }
        echo_token = broker.add_space("echo", setup.echo);
        for (const auto& [name, options] : setup.more_spaces) {
            tokens[name] = broker.add_space(name, options);
        }
        broker.start(setup.serve_args);
    }

    // A client signed in as `user` (REQUIREs the login to succeed).
    http_client signed_in(const std::string& user) {
        http_client c = broker.client();
        const std::string& pw = user == "admin" ? admin_password : user == "bob" ? bob_password : alice_password;
        auto r = c.login(user, pw);
        INFO("login " << user << ": " << r.describe() << "\nbroker stderr:\n" << broker.stderr_tail());
        REQUIRE(r.status == 200);
        return c;
    }

    // An agent connected and registered for "echo" (REQUIREd).
    std::unique_ptr<agent_client> echo_agent(std::uint32_t capacity = 1) {
        auto a = broker.agent();
        INFO("broker stderr:\n" << broker.stderr_tail());
        REQUIRE(a->connect());
        auto reg = a->register_spaces({agent_client::space("echo", echo_token, capacity)});
        INFO("agent: " << a->last_error());
        REQUIRE(reg);
        REQUIRE(reg->spaces.size() == 1);
        REQUIRE(reg->spaces[0].ok);
        return a;
    }

    // POSTs a JSON prompt to "echo"; REQUIREs 202 and returns the request id.
    std::string submit(http_client& c, const std::string& prompt, const std::string& space = "echo") {
        auto r = c.post_json("/api/spaces/" + space + "/requests", "{\"prompt\":" + json_quote(prompt) + "}");
        INFO("submit: " << r.describe() << "\nbroker stderr:\n" << broker.stderr_tail());
        REQUIRE(r.status == 202);
        auto id = r.json().string("/request_id");
        REQUIRE(id);
        return *id;
    }

    // GET /api/requests/{id} as JSON (the HTTP status in `status`).
    json_doc request_status(http_client& c, const std::string& id, int* status = nullptr) {
        auto r = c.get("/api/requests/" + id);
        if (status != nullptr) {
            *status = r.status;
        }
        return r.json();
    }

    // Polls until GET /api/requests/{id} reports `state`; true when it did in time.
    bool wait_status(http_client& c, const std::string& id, const std::string& state,
                     std::chrono::milliseconds timeout = 5s) {
        return eventually([&] { return request_status(c, id).str("/status") == state; }, timeout, 25ms);
    }

    // The "connected" flag GET /api/spaces shows for `space` (nullopt: not listed).
    std::optional<bool> space_connected(http_client& c, const std::string& space = "echo") {
        auto doc = c.get("/api/spaces").json();
        const std::size_t n = doc.array_size("/spaces").value_or(0);
        for (std::size_t i = 0; i < n; ++i) {
            const std::string at = "/spaces/" + std::to_string(i);
            if (doc.str(at + "/name") == space) {
                return doc.boolean(at + "/connected");
            }
        }
        return std::nullopt;
    }

    // Waits until the broker has noticed that no agent serves `space` any more,
    // so a new agent's registration cannot race the old connection's end.
    bool wait_disconnected(http_client& c, const std::string& space = "echo") {
        return eventually([&] { return space_connected(c, space) == std::optional<bool>(false); }, 5s, 20ms);
    }

    broker_process broker;
    std::string echo_token;
    std::map<std::string, std::string> tokens; // of broker_setup::more_spaces
};

} // namespace tether::itest

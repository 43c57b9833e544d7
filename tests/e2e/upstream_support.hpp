#pragma once
// For the --upstream tests: the broker users talk to, with a "relay" space
// served by a real tether-agent whose --upstream points where the test says.

#include "e2e/agent_process.hpp"
#include "integration/itest_broker.hpp"

namespace tether::e2e {

using namespace tether::itest;

// A finished request's output text, wherever GET /api/requests/ID puts it.
inline std::string output_of(const json_doc& d) {
    if (auto s = d.string("/result/output")) return *s;
    return d.str("/output");
}

struct relay_options {
    std::string features = "prompt";
    int timeout_s = 120;
    std::vector<std::string> agent_args;    // more flags for the agent
    std::vector<std::string> agent_env;     // VAR=VALUE
    bool wait_registered = true;
};

struct relay {
    itest_broker t;
    agent_process agent;
    http_client client; // alice's API key

    static broker_setup spaces(const relay_options& o) {
        broker_setup s;
        s.with_bob = false;
        space_options sp;
        sp.features = o.features;
        sp.timeout_s = o.timeout_s;
        s.more_spaces = {{"relay", sp}};
        return s;
    }
    relay(const std::string& url, const relay_options& o = {}) : t(spaces(o)), client(t.broker.client()) {
        client.set_bearer(t.broker.add_api_key("alice"));
        client.set_timeout(30s);
        std::vector<std::string> args{"--backend", "mock", "--upstream", "relay=" + url};
        args.insert(args.end(), o.agent_args.begin(), o.agent_args.end());
        agent.start(t.broker.ws_url(), {"relay=" + t.tokens.at("relay")}, args, o.agent_env);
        if (!o.wait_registered) return;
        const bool registered = agent.wait_registered(30s);
        INFO("relay agent log:\n" << agent.log() << "\nbroker:\n" << t.broker.stderr_tail());
        REQUIRE(registered);
    }
    // POST /v1/chat/completions with one user message, not streamed.
    http_response chat(const std::string& content) {
        return client.post_json("/v1/chat/completions",
                                R"({"model":"relay","messages":[{"role":"user","content":)" + json_quote(content) + "}]}");
    }
};

} // namespace tether::e2e

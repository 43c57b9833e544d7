#pragma once
// Test helpers for broker_core: a core_effects that records every command the
// core gives, and a fixture with a manual clock, spaces and agent shortcuts.
// The recorder does no work of its own; it only remembers what was asked.

#include "core/broker_core.hpp"

#include "tether/protocol/json_writer.hpp"
#include "tether/shared/crypto.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace tether::broker::test {

struct recording_effects final : core_effects {
    struct cancel_cmd {
        agent_conn_id conn;
        uuid id;
        std::string reason;
    };
    struct close_cmd {
        agent_conn_id conn;
        std::uint16_t code;
        std::string reason;
    };
    std::vector<std::pair<agent_conn_id, request_record>> requests;
    std::vector<cancel_cmd> cancels;
    std::vector<close_cmd> closes;
    std::vector<request_record> persisted;
    std::vector<request_event> events;
    std::vector<std::string> order; // "persist", "publish:<type>", "send", "cancel", "close"

    void send_request(agent_conn_id conn, const request_record& r) override {
        requests.emplace_back(conn, r);
        order.emplace_back("send");
    }
    void send_cancel(agent_conn_id conn, const uuid& id, std::string_view reason) override {
        cancels.push_back({conn, id, std::string(reason)});
        order.emplace_back("cancel");
    }
    void close_agent(agent_conn_id conn, std::uint16_t code, std::string_view reason) override {
        closes.push_back({conn, code, std::string(reason)});
        order.emplace_back("close");
    }
    struct notice_cmd {
        agent_conn_id conn;
        std::string code;
        std::string message;
    };
    std::vector<notice_cmd> notices;
    void send_notice(agent_conn_id conn, std::string_view code, std::string_view message) override {
        notices.push_back({conn, std::string(code), std::string(message)});
        order.emplace_back("notice");
    }
    void persist(const request_record& r) override {
        persisted.push_back(r);
        order.emplace_back("persist");
    }
    void publish(const request_event& e) override {
        events.push_back(e);
        order.emplace_back("publish:" + e.type);
    }
    // name -> the config the core reported last; nullopt once removed.
    std::map<std::string, std::optional<space_config>> spaces;
    void space_changed(std::string_view name, const space_config* config) override {
        spaces[std::string(name)] = config ? std::optional<space_config>(*config) : std::nullopt;
    }

    std::vector<request_event> events_of(const uuid& id) const {
        std::vector<request_event> out;
        std::copy_if(events.begin(), events.end(), std::back_inserter(out),
                     [&](const request_event& e) { return e.request_id == id; });
        return out;
    }
    std::vector<std::string> types_of(const uuid& id) const {
        std::vector<std::string> out;
        for (const auto& e : events_of(id)) {
            out.push_back(e.type);
        }
        return out;
    }
    std::vector<uuid> sent_ids(agent_conn_id conn) const {
        std::vector<uuid> out;
        for (const auto& [c, r] : requests) {
            if (c == conn) {
                out.push_back(r.id);
            }
        }
        return out;
    }
    const request_record* last_persisted(const uuid& id) const {
        for (auto it = persisted.rbegin(); it != persisted.rend(); ++it) {
            if (it->id == id) {
                return &*it;
            }
        }
        return nullptr;
    }
};

inline std::string token_for(const std::string& space) {
    return "token-of-" + space;
}

struct core_fixture {
    explicit core_fixture(core_limits limits = {}) : core(clock, fx, limits) {}

    manual_clock clock;
    recording_effects fx;
    broker_core core;

    void add_space(const std::string& name, std::uint32_t timeout_s = 120, std::uint32_t queue_limit = 1000) {
        space_config c;
        c.name = name;
        c.timeout_s = timeout_s;
        c.queue_limit = queue_limit;
        c.token_hash = hash_token(token_for(name));
        core.set_space(c);
    }

    static protocol::register_frame reg_frame(const std::vector<std::string>& spaces, std::uint32_t capacity = 1,
                                              const std::string& instance = "inst-1") {
        protocol::register_frame f;
        f.agent = {"gpu-box", "0.1.0", instance};
        for (const auto& s : spaces) {
            f.spaces.push_back({s, token_for(s), capacity, {}, std::nullopt});
        }
        return f;
    }

    protocol::registered_frame connect(agent_conn_id conn, const std::vector<std::string>& spaces,
                                       std::uint32_t capacity = 1, const std::string& instance = "inst-1") {
        return core.register_agent(conn, reg_frame(spaces, capacity, instance));
    }

    uuid submit(const std::string& space, const std::string& prompt = "hello") {
        request_record r;
        r.id = uuid::random();
        r.space = space;
        r.username = "alice";
        r.prompt = prompt;
        const auto out = core.submit(r);
        REQUIRE(out.status == submit_status::ok);
        return r.id;
    }

    void result(agent_conn_id conn, const uuid& id, protocol::result_status status) {
        protocol::inference_result_frame f;
        f.request_id = id.to_string();
        f.status = status;
        core.on_result(conn, f);
    }
    void delta(agent_conn_id conn, const uuid& id, std::uint64_t seq, const std::string& text) {
        protocol::inference_result_frame f;
        f.request_id = id.to_string();
        f.status = protocol::result_status::streaming;
        f.seq = seq;
        f.delta_text = text;
        core.on_result(conn, f);
    }
    void complete(agent_conn_id conn, const uuid& id, const std::string& output = "done",
                  std::vector<stored_file> files = {}) {
        protocol::inference_result_frame f;
        f.request_id = id.to_string();
        f.status = protocol::result_status::completed;
        f.output = output;
        f.result_json = "{\"output\":" + protocol::json_string(output) + "}";
        f.inference_ms = 12.5;
        core.on_result(conn, f, std::move(files));
    }
    void fail(agent_conn_id conn, const uuid& id, const std::string& code) {
        protocol::inference_result_frame f;
        f.request_id = id.to_string();
        f.status = protocol::result_status::failed;
        f.error = {code, "it broke"};
        core.on_result(conn, f);
    }

    request_state state(const uuid& id) const {
        const request_record* r = core.find(id);
        REQUIRE(r != nullptr);
        return r->state;
    }

    // Terminal events published for a request.
    int terminal_events(const uuid& id) const {
        int n = 0;
        for (const auto& t : fx.types_of(id)) {
            if (t == "completed" || t == "failed" || t == "timeout" || t == "cancelled") {
                ++n;
            }
        }
        return n;
    }
};

} // namespace tether::broker::test

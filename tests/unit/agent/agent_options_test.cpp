// tether-agent's configuration: flags, environment and config file merged,
// and every bad value refused with exit status 2 and a message naming it.

#include "app/agent_options.hpp"

#include "testkit/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

using namespace tether::agent;
using namespace std::chrono_literals;

namespace {

options_outcome parse(std::vector<std::string> args, const environment& env = {}) {
    args.insert(args.begin(), "tether-agent");
    std::vector<const char*> argv;
    for (auto& a : args)
        argv.push_back(a.c_str());
    return parse_agent_options(static_cast<int>(argv.size()), argv.data(), env);
}

// A config file in the temp dir, removed at the end of the test.
struct config_file {
    std::string path;
    explicit config_file(const std::string& text) {
        path = (std::filesystem::temp_directory_path() /
                ("tether-agent-config-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".json"))
                   .string();
        std::ofstream(path) << text;
    }
    ~config_file() { std::remove(path.c_str()); }
};

} // namespace

TEST_CASE("several --space NAME=TOKEN flags give several spaces") {
    auto r = parse({"--broker", "ws://127.0.0.1:8080/agent", "--space", "A=tok1", "--space", "B.2=tok=2"});
    REQUIRE(r.options);
    const auto& o = *r.options;
    REQUIRE(o.spaces.size() == 2);
    CHECK(o.spaces[0].name == "A");
    CHECK(o.spaces[0].token == "tok1");
    CHECK(o.spaces[1].name == "B.2");
    CHECK(o.spaces[1].token == "tok=2"); // only the first '=' splits
    CHECK_FALSE(o.broker.tls);
    CHECK(o.broker.host == "127.0.0.1");
    CHECK(o.broker.port == 8080);
    CHECK(o.broker.target == "/agent");
    CHECK(o.delay_min == 1s);
    CHECK(o.delay_max == 5s);
    CHECK(o.grace == 30s);
    CHECK(o.capacity == 1);
}

TEST_CASE("--capacity N sets every space's, --capacity NAME=N one space's") {
    auto r = parse({"--broker", "ws://127.0.0.1:8080/agent", "--space", "A=t1", "--space", "B=t2", "--capacity", "3",
                    "--capacity", "B=8"});
    REQUIRE(r.options);
    const auto& o = *r.options;
    CHECK(o.capacity_of(o.spaces[0]) == 3);
    CHECK(o.capacity_of(o.spaces[1]) == 8);
}

TEST_CASE("space assignments without a name, a token or with a bad name are refused") {
    std::string err;
    CHECK_FALSE(parse_space_assignment("A", err));
    CHECK_FALSE(parse_space_assignment("=tok", err));
    CHECK_FALSE(parse_space_assignment("A=", err));
    CHECK(err.find("empty token") != std::string::npos);
    CHECK_FALSE(parse_space_assignment("bad name=tok", err));
    CHECK_FALSE(parse_space_assignment(std::string(65, 'a') + "=tok", err));
    CHECK(parse_space_assignment(std::string(64, 'a') + "=tok", err));
}

TEST_CASE("tokens come from TETHER_SPACE_<NAME> and TETHER_SPACES, and the broker from TETHER_BROKER") {
    environment env{{"TETHER_BROKER", "wss://broker.example.com/agent"},
                    {"TETHER_SPACE_Alpha", "a-token"},
                    {"TETHER_SPACES", "Beta=b-token, ,Gamma=g-token"},
                    {"UNRELATED", "x"}};
    auto r = parse({}, env);
    REQUIRE(r.options);
    const auto& o = *r.options;
    CHECK(o.broker.tls);
    CHECK(o.broker.port == 443);
    CHECK(o.broker.host == "broker.example.com");
    REQUIRE(o.spaces.size() == 3);
    std::map<std::string, std::string> got;
    for (const auto& s : o.spaces)
        got[s.name] = s.token;
    CHECK(got["Alpha"] == "a-token");
    CHECK(got["Beta"] == "b-token");
    CHECK(got["Gamma"] == "g-token");
}

TEST_CASE("the command line overrides the environment, which overrides the config file") {
    config_file cfg(R"({"broker":"ws://from-config:1/agent","spaces":[{"name":"A","token":"cfg","capacity":3}],
                        "delay":"2-4","grace":5,"name":"box"})");
    environment env{{"TETHER_SPACE_A", "env"}, {"TETHER_BROKER", "ws://from-env:2/agent"}};
    auto r = parse({"--config", cfg.path, "--space", "A=flag", "--broker", "ws://from-flag:3/x", "--delay", "0"}, env);
    REQUIRE(r.options);
    const auto& o = *r.options;
    REQUIRE(o.spaces.size() == 1);
    CHECK(o.spaces[0].token == "flag");
    CHECK(o.capacity_of(o.spaces[0]) == 3); // kept from the config file
    CHECK(o.broker.host == "from-flag");
    CHECK(o.broker.target == "/x");
    CHECK(o.delay_min == 0ms);
    CHECK(o.delay_max == 0ms);
    CHECK(o.grace == 5s);
    CHECK(o.name == "box");

    auto r2 = parse({"--config", cfg.path}, env);
    REQUIRE(r2.options);
    CHECK(r2.options->spaces[0].token == "env");
    CHECK(r2.options->broker.host == "from-env");
    CHECK(r2.options->delay_min == 2s);
    CHECK(r2.options->delay_max == 4s);
}

TEST_CASE("a config file sets per-space capacity, models and the other settings") {
    config_file cfg(R"({"broker":"wss://b:8443/agent","capacity":2,"ca_file":"/etc/ca.pem","log_level":"debug",
                        "fail_rate":0.25,"workers":4,"max_input":"1MiB",
                        "spaces":[{"name":"A","token":"t1"},{"space":"B","token":"t2","capacity":5,"models":["m1"]}],
                        "models":{"A":"tiny.pt"},"device":"cuda:1","half":true,"max_batch":16,
                        "batch_wait_ms":2,"torch_threads":3})");
    auto r = parse({"--config", cfg.path});
    REQUIRE(r.options);
    const auto& o = *r.options;
    REQUIRE(o.spaces.size() == 2);
    CHECK(o.capacity_of(o.spaces[0]) == 2);
    CHECK(o.capacity_of(o.spaces[1]) == 5);
    CHECK(o.spaces[1].models == std::vector<std::string>{"m1"});
    CHECK(o.ca_file == "/etc/ca.pem");
    CHECK(o.log_level == "debug");
    CHECK(o.fail_rate == Approx(0.25));
    CHECK(o.workers == 4);
    CHECK(o.max_input_bytes == 1048576);
    CHECK(o.models.at("A") == "tiny.pt");
    CHECK(o.device == "cuda:1");
    CHECK(o.half);
    CHECK(o.max_batch == 16);
    CHECK(o.batch_wait == 2ms);
    CHECK(o.torch_threads == 3);
}

TEST_CASE("torch options: every space needs a model, a model needs its space, devices are checked") {
    const std::vector<std::string> base{"--broker", "ws://b:1/agent", "--space", "A=t", "--backend", "torch"};
    auto with = [&](std::vector<std::string> extra) {
        auto args = base;
        args.insert(args.end(), extra.begin(), extra.end());
        return parse(args);
    };
    auto missing = with({});
    CHECK(missing.exit_code == 2);
    CHECK(missing.message.find("space 'A' has no model: use --model A=PATH.pt") != std::string::npos);

    auto stray = with({"--model", "A=a.pt", "--model", "B=b.pt"});
    CHECK(stray.exit_code == 2);
    CHECK(stray.message.find("no space 'B' is served") != std::string::npos);

    for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:12345", "CPU"}) {
        auto r = with({"--model", "A=a.pt", "--device", bad});
        CHECK(r.exit_code == 2);
        CHECK(r.message.find("--device") != std::string::npos);
    }
    auto ok = with({"--model", "A=a.pt", "--device", "cuda:0", "--half", "--max-batch", "4", "--batch-wait-ms", "7"});
    REQUIRE(ok.options);
    CHECK(ok.options->device == "cuda:0");
    CHECK(ok.options->half);
    CHECK(ok.options->max_batch == 4);
    CHECK(ok.options->batch_wait == 7ms);
    CHECK(with({"--model", "A=a.pt", "--batch-wait-ms", "-1"}).exit_code == 2);
    CHECK(with({"--model", "A=a.pt", "--max-batch", "0"}).exit_code == 2);

    // A fallback chat template goes with a model folder of a served space.
    tether::testkit::temp_dir dir("tether-opts-");
    const std::string folder = dir.path();
    auto templ = with({"--model", "A=" + folder, "--chat-template", "A=/etc/chat.jinja"});
    REQUIRE(templ.options);
    CHECK(templ.options->chat_templates.at("A") == "/etc/chat.jinja");
    auto on_pt = with({"--model", "A=a.pt", "--chat-template", "A=x.jinja"});
    CHECK(on_pt.exit_code == 2);
    CHECK(on_pt.message.find("--chat-template A=x.jinja: space 'A' is not served from a model folder") != std::string::npos);
    CHECK(with({"--model", "A=" + folder, "--chat-template", "B=x.jinja"}).exit_code == 2);
    CHECK(with({"--model", "A=" + folder, "--chat-template", "x.jinja"}).exit_code == 2);
}

TEST_CASE("upstreams: a served space, a URL that parses, not together with a model") {
    const std::vector<std::string> base{"--broker", "ws://b:1/agent", "--space", "A=t", "--space", "B=u"};
    auto with = [&](std::vector<std::string> extra) {
        auto args = base;
        args.insert(args.end(), extra.begin(), extra.end());
        return parse(args);
    };
    auto ok = with({"--upstream", "A=openai+http://127.0.0.1:8000/v1#model=m"});
    REQUIRE(ok.options);
    CHECK(ok.options->upstreams.at("A") == "openai+http://127.0.0.1:8000/v1#model=m");
    // With the torch backend, a space with an upstream needs no model.
    auto mixed = with({"--backend", "torch", "--model", "B=b.pt", "--upstream", "A=openai+http://h:1/v1"});
    REQUIRE(mixed.options);
    auto bad = with({"--upstream", "A=openai+ftp://h/v1"});
    CHECK(bad.exit_code == 2);
    CHECK(bad.message.find("--upstream A=openai+ftp://h/v1: scheme 'ftp'") != std::string::npos);
    CHECK(with({"--upstream", "C=openai+http://h/v1"}).message.find("no space 'C' is served") != std::string::npos);
    CHECK(with({"--backend", "torch", "--model", "A=a.pt", "--model", "B=b.pt", "--upstream", "A=openai+http://h/v1"})
              .message.find("both --model and --upstream") != std::string::npos);
    CHECK(with({"--upstream", "openai+http://h/v1"}).exit_code == 2);
    CHECK(with({"--upstream", "A=http://h:7860/run#body=multipart"}).options);
}

TEST_CASE("upstream secrets come from the environment or the config file, never the command line") {
    const std::vector<std::string> base{"--broker", "ws://b:1/agent", "--space", "A=t", "--space", "B=u"};
    auto args = base;
    args.insert(args.end(), {"--upstream", "A=openai+https://h/v1#key_env=VLLM_KEY&header_env=X-Org:ORG_ID"});
    auto ok = parse(args, {{"VLLM_KEY", "sk-1"}, {"ORG_ID", "acme"}});
    REQUIRE(ok.options);
    using headers = std::vector<std::pair<std::string, std::string>>;
    CHECK(ok.options->upstream_headers.at("A") == headers{{"Authorization", "Bearer sk-1"}, {"X-Org", "acme"}});
    // A variable the URL names but the environment lacks is an error at start.
    auto missing = parse(args, {{"VLLM_KEY", "sk-1"}});
    CHECK(missing.exit_code == 2);
    CHECK(missing.message.find("ORG_ID is not set") != std::string::npos);
    auto newline = parse(args, {{"VLLM_KEY", "sk-1\r\nX-Evil: 1"}, {"ORG_ID", "acme"}});
    CHECK(newline.exit_code == 2);

    config_file cfg(R"({"broker":"ws://b/agent","spaces":[{"name":"A","token":"t"},{"name":"B","token":"u"}],
        "upstreams":{"A":{"url":"http://127.0.0.1:7860/run","key":"k-2","headers":{"X-Api-Key":"k-3"}},
                     "B":"openai+http://127.0.0.1:8000/v1"}})");
    auto from_file = parse({"--config", cfg.path});
    INFO(from_file.message);
    REQUIRE(from_file.options);
    CHECK(from_file.options->upstreams.at("A") == "http://127.0.0.1:7860/run");
    CHECK(from_file.options->upstream_headers.at("A") == headers{{"Authorization", "Bearer k-2"}, {"X-Api-Key", "k-3"}});
    CHECK(from_file.options->upstreams.at("B") == "openai+http://127.0.0.1:8000/v1");
    for (const char* bad : {R"({"A":{"key":"k"}})", R"({"A":{"url":"http://h/","colour":"red"}})",
                            R"({"A":{"url":"http://h/","headers":{"Bad Name":"v"}}})"}) {
        INFO(bad);
        config_file b(std::string(R"({"broker":"ws://b/agent","spaces":[{"name":"A","token":"t"}],"upstreams":)") + bad + "}");
        CHECK(parse({"--config", b.path}).exit_code == 2);
    }
}

TEST_CASE("a broken or unknown config file setting exits 2 naming the problem") {
    {
        config_file cfg(R"({"broker":"ws://b/agent","spaces":[{"name":"A","token":"t"}],"capacty":2})");
        auto r = parse({"--config", cfg.path});
        CHECK_FALSE(r.options);
        CHECK(r.exit_code == 2);
        CHECK(r.message.find("capacty") != std::string::npos);
    }
    {
        config_file cfg(R"({"broker":"ws://b/agent", "spaces": [)");
        auto r = parse({"--config", cfg.path});
        CHECK_FALSE(r.options);
        CHECK(r.exit_code == 2);
    }
    {
        config_file cfg(R"({"broker":"ws://b/agent","spaces":[{"name":"A","token":"t","capacity":0}]})");
        auto r = parse({"--config", cfg.path});
        CHECK(r.exit_code == 2);
        CHECK(r.message.find("capacity") != std::string::npos);
    }
    auto missing = parse({"--config", "/nonexistent/agent.json"});
    CHECK(missing.exit_code == 2);
    CHECK(missing.message.find("/nonexistent/agent.json") != std::string::npos);
}

TEST_CASE("bad flags and values exit 2 with a message saying what is wrong") {
    const std::string b = "ws://127.0.0.1:1/agent";
    struct bad_case {
        std::vector<std::string> args;
        std::string mentions;
    };
    std::vector<bad_case> cases{
        {{"--broker", b, "--space", "A=t", "--no-such-flag"}, "no-such-flag"},
        {{"--space", "A=t"}, "broker"},
        {{"--broker", b}, "space"},
        {{"--broker", "http://x/agent", "--space", "A=t"}, "ws://"},
        {{"--broker", "ws://host:99999/agent", "--space", "A=t"}, "port"},
        {{"--broker", b, "--space", "A"}, "NAME=TOKEN"},
        {{"--broker", b, "--space", "A=t", "--delay", "abc"}, "--delay"},
        {{"--broker", b, "--space", "A=t", "--delay", "5-1"}, "--delay"},
        {{"--broker", b, "--space", "A=t", "--fail-rate", "1.5"}, "--fail-rate"},
        {{"--broker", b, "--space", "A=t", "--fail-rate", "lots"}, "--fail-rate"},
        {{"--broker", b, "--space", "A=t", "--capacity", "0"}, "--capacity"},
        {{"--broker", b, "--space", "A=t", "--capacity", "x"}, "capacity"},
        {{"--broker", b, "--space", "A=t", "--capacity", "B=2"}, "no space 'B'"},
        {{"--broker", b, "--space", "A=t", "--capacity", "A=2000"}, "--capacity"},
        {{"--broker", b, "--space", "A=t", "--backend", "gpu"}, "--backend"},
        {{"--broker", b, "--space", "A=t", "--log-level", "loud"}, "--log-level"},
        {{"--broker", b, "--space", "A=t", "--grace", "soon"}, "--grace"},
        {{"--broker", b, "--space", "A=t", "--model", "nopath"}, "--model"},
        {{"--broker", "wss://h/agent", "--space", "A=t", "--insecure", "--ca-file", "x.pem"}, "--insecure"},
    };
    for (const auto& c : cases) {
        auto r = parse(c.args);
        INFO(c.args.back());
        CHECK_FALSE(r.options);
        CHECK(r.exit_code == 2);
        CHECK(r.message.find(c.mentions) != std::string::npos);
    }
    environment bad_env{{"TETHER_SPACE_bad name", "t"}};
    auto r = parse({"--broker", b}, bad_env);
    CHECK(r.exit_code == 2);
}

TEST_CASE("asking for --help exits 0 with a usage text") {
    auto r = parse({"--help"});
    CHECK_FALSE(r.options);
    CHECK(r.exit_code == 0);
    CHECK(r.message.find("--space") != std::string::npos);
    CHECK(r.message.find("--broker") != std::string::npos);
}

TEST_CASE("delay ranges accept one value or MIN-MAX in seconds") {
    std::chrono::milliseconds lo{}, hi{};
    REQUIRE(parse_delay_range("0", lo, hi));
    CHECK(lo == 0ms);
    CHECK(hi == 0ms);
    REQUIRE(parse_delay_range("0.2-0.5", lo, hi));
    CHECK(lo == 200ms);
    CHECK(hi == 500ms);
    REQUIRE(parse_delay_range("1-5", lo, hi));
    CHECK(hi == 5s);
    CHECK_FALSE(parse_delay_range("", lo, hi));
    CHECK_FALSE(parse_delay_range("3-", lo, hi));
    CHECK_FALSE(parse_delay_range("2-1", lo, hi));
}

TEST_CASE("broker URLs: ports, IPv6 literals and paths") {
    std::string err;
    auto u = parse_broker_url("wss://[::1]:9443/tether/agent", err);
    REQUIRE(u);
    CHECK(u->tls);
    CHECK(u->host == "::1");
    CHECK(u->port == 9443);
    CHECK(u->target == "/tether/agent");
    auto v = parse_broker_url("ws://example.org", err);
    REQUIRE(v);
    CHECK(v->port == 80);
    CHECK(v->target == "/agent");
    CHECK_FALSE(parse_broker_url("ws://:80/agent", err));
    CHECK_FALSE(parse_broker_url("ws://host:0/agent", err));
    CHECK_FALSE(parse_broker_url("wss://[::1/agent", err));
}

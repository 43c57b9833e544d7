// tether-broker: `serve` runs the broker; `user`, `space` and `apikey` manage
// accounts and spaces in the data directory. Flags are parsed here, once;
// a wrong flag or value exits with status 2 and says what is wrong.
#include "app/admin_commands.hpp"
#include "app/admin_maintenance.hpp"
#include "app/config.hpp"
#include "app/server.hpp"

#include "tether/shared/log.hpp"
#include "tether/shared/units.hpp"

#include <CLI/CLI.hpp>
#include <simdjson.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace {

using namespace tether;
using tether::broker::app::broker_config;
namespace admin = tether::broker::admin;

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct serve_flags {
    std::string listen = "127.0.0.1:8080";
    std::string data = "./data";
    std::string web = "./web";
    std::string tls_cert;
    std::string tls_key;
    std::string threads;
    std::string heartbeat = "15";
    std::string max_upload = "256MiB";
    std::string max_frame = "1MiB";
    std::string max_connections = "4096";
    std::string log_level = "info";
    std::string config;
    std::vector<std::string> rate_limits;
    std::string retain = "30d";
    std::string max_data_size;
    std::string prune_interval = "60s";
};

unsigned parse_unsigned(const std::string& flag, const std::string& text, unsigned lo, unsigned hi) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size() || v < lo || v > hi)
        throw usage_error(flag + ": expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) +
                          ", got \"" + text + "\"");
    return v;
}

// Values from --config FILE fill in what was not given on the command line.
void apply_config_file(CLI::App& serve, serve_flags& f) {
    std::ifstream in(f.config, std::ios::binary);
    if (!in) throw usage_error("--config: cannot read " + f.config);
    std::stringstream ss;
    ss << in.rdbuf();
    auto text = ss.str();
    simdjson::dom::parser parser;
    simdjson::dom::object obj;
    if (parser.parse(text).get_object().get(obj)) throw usage_error("--config: " + f.config + " is not a JSON object");
    auto take = [&](const char* key, const char* flag, std::string& target) {
        if (serve.get_option(flag)->count() > 0) return;
        simdjson::dom::element e;
        if (obj.at_key(key).get(e)) return;
        std::string_view s;
        std::int64_t i = 0;
        std::uint64_t u = 0;
        if (!e.get_string().get(s)) target = std::string(s);
        else if (!e.get_int64().get(i)) target = std::to_string(i);
        else if (!e.get_uint64().get(u)) target = std::to_string(u);
        else throw usage_error(std::string("--config: \"") + key + "\" must be a string or a number");
    };
    take("listen", "--listen", f.listen);
    take("data", "--data", f.data);
    take("web", "--web", f.web);
    take("tls_cert", "--tls-cert", f.tls_cert);
    take("tls_key", "--tls-key", f.tls_key);
    take("threads", "--threads", f.threads);
    take("heartbeat", "--heartbeat", f.heartbeat);
    take("max_upload", "--max-upload", f.max_upload);
    take("max_frame", "--max-frame", f.max_frame);
    take("max_connections", "--max-connections", f.max_connections);
    take("log_level", "--log-level", f.log_level);
    take("retain", "--retain", f.retain);
    take("max_data_size", "--max-data-size", f.max_data_size);
    take("prune_interval", "--prune-interval", f.prune_interval);
}

broker_config to_config(const serve_flags& f) {
    broker_config c;
    auto hp = parse_host_port(f.listen);
    if (!hp) throw usage_error("--listen: expected HOST:PORT, got \"" + f.listen + "\"");
    c.listen = *hp;
    c.data_dir = f.data;
    c.web_dir = f.web;
    if (f.tls_cert.empty() != f.tls_key.empty()) throw usage_error("--tls-cert and --tls-key go together");
    if (!f.tls_cert.empty()) {
        c.tls_cert = f.tls_cert;
        c.tls_key = f.tls_key;
    }
    c.threads = f.threads.empty() ? std::max(2U, std::thread::hardware_concurrency())
                                  : parse_unsigned("--threads", f.threads, 1, 256);
    auto hb = parse_duration(f.heartbeat);
    if (!hb || hb->count() < 1000 || hb->count() > 3'600'000)
        throw usage_error("--heartbeat: expected seconds from 1 to 3600, got \"" + f.heartbeat + "\"");
    c.heartbeat_s = static_cast<std::uint32_t>(hb->count() / 1000);
    auto up = parse_size(f.max_upload);
    if (!up || *up == 0) throw usage_error("--max-upload: expected a size like 256MiB, got \"" + f.max_upload + "\"");
    c.max_upload = *up;
    auto fr = parse_size(f.max_frame);
    if (!fr || *fr < 1024 || *fr > (64ULL << 20))
        throw usage_error("--max-frame: expected a size from 1KiB to 64MiB, got \"" + f.max_frame + "\"");
    c.max_frame = *fr;
    c.max_connections = parse_unsigned("--max-connections", f.max_connections, 1, 1'000'000);
    for (const auto& r : f.rate_limits) {
        if (!c.rate_limits) c.rate_limits.emplace();
        std::string err;
        if (!tether::broker::parse_rate_limit(r, *c.rate_limits, err))
            throw usage_error("--rate-limit \"" + r + "\": " + err);
    }
    c.retain = admin::parse_retain(f.retain);
    if (!c.retain) throw usage_error("--retain: expected a duration like 30d, 12h or 90m (or \"forever\"), got \"" +
                                     f.retain + "\"");
    if (*c.retain == std::chrono::milliseconds::zero()) c.retain.reset(); // "forever"
    if (!f.max_data_size.empty()) {
        auto sz = parse_size(f.max_data_size);
        if (!sz || *sz == 0)
            throw usage_error("--max-data-size: expected a size like 50GiB, got \"" + f.max_data_size + "\"");
        c.max_data_size = *sz;
    }
    auto pi = parse_duration(f.prune_interval);
    if (!pi || pi->count() < 100 || pi->count() > 86'400'000)
        throw usage_error("--prune-interval: expected a duration from 100ms to 24h, got \"" + f.prune_interval + "\"");
    c.prune_interval = *pi;
    if (!log::parse_level(f.log_level, c.log_level))
        throw usage_error("--log-level: expected debug, info, warn, error or off, got \"" + f.log_level + "\"");
    return c;
}

std::optional<std::string> env(const char* name) {
    if (const char* v = std::getenv(name)) return std::string(v);
    return std::nullopt;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"tether-broker: carries inference requests to agents that dial in"};
    app.require_subcommand(1);
    std::string data = "./data";
    int code = 0;
    std::function<int()> action;

    serve_flags sf;
    auto* serve = app.add_subcommand("serve", "Run the broker (HTTP API, web page, agent WebSocket)");
    serve->add_option("--listen", sf.listen, "Address to listen on, HOST:PORT (port 0: any free port)")->capture_default_str();
    serve->add_option("--data", sf.data, "Data directory (SQLite database, blobs)")->capture_default_str();
    serve->add_option("--web", sf.web, "Directory of the web page's static files")->capture_default_str();
    serve->add_option("--tls-cert", sf.tls_cert, "TLS certificate chain (PEM); serves https/wss");
    serve->add_option("--tls-key", sf.tls_key, "TLS private key (PEM)");
    serve->add_option("--threads", sf.threads, "I/O threads (default: CPU cores, at least 2)");
    serve->add_option("--heartbeat", sf.heartbeat, "Seconds between pings to agents")->capture_default_str();
    serve->add_option("--max-upload", sf.max_upload, "Largest upload per request")->capture_default_str();
    serve->add_option("--max-frame", sf.max_frame, "Largest agent text frame / blob chunk")->capture_default_str();
    serve->add_option("--max-connections", sf.max_connections,
                      "Most open connections (HTTP, SSE and agents together); more are closed at accept")
        ->capture_default_str();
    serve->add_option("--log-level", sf.log_level, "debug, info, warn, error or off")->capture_default_str();
    serve->add_option("--config", sf.config, "JSON file with the same settings (flags win)");
    serve->add_option("--rate-limit", sf.rate_limits,
                      "[SPACE:]key=RATE[/BURST][,user=RATE[/BURST]] submissions per second; repeatable");
    serve->add_option("--retain", sf.retain,
                      "Keep finished requests and their files this long, then delete them (\"forever\": never)")
        ->capture_default_str();
    serve->add_option("--max-data-size", sf.max_data_size,
                      "Delete the oldest finished requests while the data directory is above this size (e.g. 50GiB)");
    serve->add_option("--prune-interval", sf.prune_interval, "How often retention runs")->capture_default_str();
    serve->callback([&] {
        action = [&]() -> int {
            if (!sf.config.empty()) apply_config_file(*serve, sf);
            auto config = to_config(sf);
            log::set_level(config.log_level);
            return tether::broker::app::run_server(config);
        };
    });

    auto data_opt = [&](CLI::App* sub) {
        sub->add_option("--data", data, "Data directory")->capture_default_str();
    };

    auto* user = app.add_subcommand("user", "Manage users")->require_subcommand(1);
    admin::user_add_options ua;
    auto* user_add = user->add_subcommand("add", "Add a user (password from $TETHER_PASSWORD, else asked)");
    user_add->add_option("name", ua.name, "User name")->required();
    user_add->add_flag("--admin", ua.admin, "Make the user an administrator");
    data_opt(user_add);
    user_add->callback([&] {
        action = [&] {
            ua.password = env("TETHER_PASSWORD");
            return admin::user_add(ua, data, std::cout, std::cerr);
        };
    });
    admin::user_passwd_options up;
    auto* user_pw = user->add_subcommand("passwd", "Set a user's password ($TETHER_PASSWORD, else asked)");
    user_pw->add_option("name", up.name, "User name")->required();
    data_opt(user_pw);
    user_pw->callback([&] {
        action = [&] {
            up.password = env("TETHER_PASSWORD");
            return admin::user_passwd(up, data, std::cout, std::cerr);
        };
    });
    auto* user_list = user->add_subcommand("list", "List users");
    data_opt(user_list);
    user_list->callback([&] { action = [&] { return admin::user_list(data, std::cout, std::cerr); }; });
    std::string user_name;
    auto* user_del = user->add_subcommand("delete", "Delete a user with their sessions and API keys");
    user_del->add_option("name", user_name, "User name")->required();
    data_opt(user_del);
    user_del->callback([&] { action = [&] { return admin::user_delete(user_name, data, std::cout, std::cerr); }; });

    auto* user_off = user->add_subcommand("disable", "Disable a user: signed out everywhere, API keys refused");
    user_off->add_option("name", user_name, "User name")->required();
    data_opt(user_off);
    user_off->callback([&] { action = [&] { return admin::user_set_disabled(user_name, true, data, std::cout, std::cerr); }; });
    auto* user_on = user->add_subcommand("enable", "Enable a disabled user again (its API keys work again)");
    user_on->add_option("name", user_name, "User name")->required();
    data_opt(user_on);
    user_on->callback([&] { action = [&] { return admin::user_set_disabled(user_name, false, data, std::cout, std::cerr); }; });

    auto* space = app.add_subcommand("space", "Manage spaces")->require_subcommand(1);
    admin::space_add_options sa;
    auto* space_add = space->add_subcommand("add", "Add a space; prints its agent token once");
    space_add->add_option("name", sa.name, "Space name, [A-Za-z0-9_.-]{1,64}")->required();
    space_add->add_option("--features", sa.features, "prompt,audio,video,file")->capture_default_str();
    space_add->add_option("--timeout", sa.timeout, "Request timeout in seconds")->capture_default_str();
    space_add->add_option("--queue-limit", sa.queue_limit, "Most queued requests")->capture_default_str();
    space_add->add_option("--description", sa.description, "Shown on the page");
    data_opt(space_add);
    space_add->callback([&] { action = [&] { return admin::space_add(sa, data, std::cout, std::cerr); }; });
    admin::space_edit_options se;
    auto* space_edit = space->add_subcommand("edit", "Change a space's settings (only those given)");
    space_edit->add_option("name", se.name, "Space name")->required();
    space_edit->add_option("--features", se.features, "prompt,audio,video,file");
    space_edit->add_option("--timeout", se.timeout, "Request timeout in seconds");
    space_edit->add_option("--queue-limit", se.queue_limit, "Most queued requests");
    space_edit->add_option("--description", se.description, "Shown on the page");
    data_opt(space_edit);
    space_edit->callback([&] { action = [&] { return admin::space_edit(se, data, std::cout, std::cerr); }; });
    std::string space_name;
    auto* space_tok = space->add_subcommand("token", "Rotate a space's agent token; prints the new one");
    space_tok->add_option("name", space_name, "Space name")->required();
    data_opt(space_tok);
    space_tok->callback([&] { action = [&] { return admin::space_token(space_name, data, std::cout, std::cerr); }; });
    auto* space_list = space->add_subcommand("list", "List spaces");
    data_opt(space_list);
    space_list->callback([&] { action = [&] { return admin::space_list(data, std::cout, std::cerr); }; });
    auto* space_del = space->add_subcommand("delete", "Delete a space");
    space_del->add_option("name", space_name, "Space name")->required();
    data_opt(space_del);
    space_del->callback([&] { action = [&] { return admin::space_delete(space_name, data, std::cout, std::cerr); }; });

    auto* apikey = app.add_subcommand("apikey", "Manage API keys")->require_subcommand(1);
    std::string key_user;
    auto* key_add = apikey->add_subcommand("add", "Create an API key for a user; prints it once");
    key_add->add_option("user", key_user, "User name")->required();
    data_opt(key_add);
    key_add->callback([&] { action = [&] { return admin::apikey_add(key_user, data, std::cout, std::cerr); }; });
    std::string key_list_user;
    auto* key_list = apikey->add_subcommand("list", "List API keys (id, prefix, user, created)");
    key_list->add_option("--user", key_list_user, "Only this user's keys");
    data_opt(key_list);
    key_list->callback([&] {
        action = [&] {
            std::optional<std::string> u;
            if (!key_list_user.empty()) u = key_list_user;
            return admin::apikey_list(u, data, std::cout, std::cerr);
        };
    });
    std::string key_id;
    auto* key_revoke = apikey->add_subcommand("revoke", "Revoke an API key by id");
    key_revoke->add_option("id", key_id, "Key id, as listed")->required();
    data_opt(key_revoke);
    key_revoke->callback([&] { action = [&] { return admin::apikey_revoke(key_id, data, std::cout, std::cerr); }; });

    admin::prune_options po;
    auto* prune = app.add_subcommand("prune", "Delete finished requests past retention now (also while the broker runs)");
    prune->add_flag("--dry-run", po.dry_run, "Only say what would be deleted");
    prune->add_option("--retain", po.retain, "Keep finished requests this long (\"forever\": never)")
        ->capture_default_str();
    prune->add_option("--max-data-size", po.max_data_size, "Then delete the oldest finished ones above this size");
    data_opt(prune);
    prune->callback([&] { action = [&] { return admin::prune(po, data, std::cout, std::cerr); }; });

    std::string backup_to;
    auto* backup = app.add_subcommand("backup", "Copy the store and its files consistently, while the broker runs");
    backup->add_option("--to", backup_to, "The backup's database file; its files go to FILE.blobs/")->required();
    data_opt(backup);
    backup->callback([&] { action = [&] { return admin::backup(backup_to, data, std::cout, std::cerr); }; });

    std::string restore_from;
    auto* restore = app.add_subcommand("restore", "Make a new data directory from a backup (the broker must not run on it)");
    restore->add_option("--from", restore_from, "A database file written by `backup --to`")->required();
    data_opt(restore);
    restore->callback([&] { action = [&] { return admin::restore(restore_from, data, std::cout, std::cerr); }; });

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e); // prints the message
        return 2;
    }
    try {
        code = action ? action() : 2;
    } catch (const usage_error& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return code;
}

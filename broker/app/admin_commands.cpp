#include "app/admin_commands.hpp"

#include "core/space.hpp"
#include "store/store.hpp"
#include "tether/shared/clock.hpp"
#include "tether/shared/units.hpp"

#include <fmt/format.h>

#include <termios.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <exception>
#include <iostream>
#include <memory>
#include <string_view>

namespace tether::broker::admin {
namespace {

constexpr std::uint32_t max_timeout_s = 7 * 24 * 3600;
constexpr std::uint32_t max_queue_limit = 1'000'000;
constexpr std::size_t max_description = 4096;

std::unique_ptr<store> open(const std::filesystem::path& data_dir, std::ostream& err) {
    return open_data(data_dir, err);
}

int report(store_status s, std::string_view what, std::ostream& err) {
    switch (s) {
    case store_status::ok:
        return exit_ok;
    case store_status::not_found:
        err << "error: " << what << " not found\n";
        return exit_failure;
    case store_status::already_exists:
        err << "error: " << what << " already exists\n";
        return exit_failure;
    case store_status::invalid:
        err << "error: " << what << ": invalid value\n";
        return exit_usage;
    case store_status::failed:
        err << "error: could not write " << what << " (see the log)\n";
        return exit_failure;
    }
    return exit_failure;
}

bool check_user_name(const std::string& name, std::ostream& err) {
    if (valid_user_name(name)) return true;
    err << "error: bad user name \"" << name << "\": use 1 to 64 of A-Z a-z 0-9 _ . -\n";
    return false;
}

bool check_space_name(const std::string& name, std::ostream& err) {
    if (valid_space_name(name)) return true;
    err << "error: bad space name \"" << name << "\": use 1 to 64 of A-Z a-z 0-9 _ . -\n";
    return false;
}

bool parse_timeout(const std::string& text, std::uint32_t& out, std::ostream& err) {
    const auto d = parse_duration(text);
    if (!d || *d < std::chrono::seconds{1} || *d > std::chrono::seconds{max_timeout_s} ||
        *d % std::chrono::seconds{1} != std::chrono::milliseconds{0}) {
        err << "error: bad --timeout \"" << text << "\": whole seconds from 1 to " << max_timeout_s
            << " (e.g. 120, 90s, 5m)\n";
        return false;
    }
    out = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(*d).count());
    return true;
}

bool parse_queue_limit(const std::string& text, std::uint32_t& out, std::ostream& err) {
    std::uint32_t v = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (text.empty() || ec != std::errc{} || ptr != end || v < 1 || v > max_queue_limit) {
        err << "error: bad --queue-limit \"" << text << "\": a whole number from 1 to " << max_queue_limit << '\n';
        return false;
    }
    out = v;
    return true;
}

bool parse_feature_list(const std::string& text, std::uint32_t& out, std::ostream& err) {
    std::string why;
    if (!parse_features(text, out, why) || out == 0) {
        err << "error: bad --features \"" << text << "\": " << (why.empty() ? "name at least one" : why)
            << " (choose from prompt,audio,video,file)\n";
        return false;
    }
    return true;
}

bool check_description(const std::string& text, std::ostream& err) {
    if (text.size() <= max_description) return true;
    err << "error: --description is longer than " << max_description << " bytes\n";
    return false;
}

std::optional<std::string> obtain_password(const std::optional<std::string>& given, const std::string& user,
                                           std::ostream& err) {
    if (given) return given;
    auto first = prompt_password("Password for " + user + ": ", err);
    if (!first) return std::nullopt;
    auto second = prompt_password("Again: ", err);
    if (!second) return std::nullopt;
    if (*first != *second) {
        err << "error: the passwords do not match\n";
        return std::nullopt;
    }
    return first;
}

std::string date(time_point t) {
    return format_rfc3339(t);
}

} // namespace

// Opening is start-up: a failure is reported, not thrown past the command.
std::unique_ptr<store> open_data(const std::filesystem::path& data_dir, std::ostream& err) {
    static const system_clock_source clock;
    try {
        return open_store(data_dir, clock);
    } catch (const std::exception& e) {
        err << "error: " << e.what() << '\n';
        return nullptr;
    }
}

std::optional<std::string> prompt_password(const std::string& prompt, std::ostream& err) {
    if (::isatty(STDIN_FILENO) == 0) {
        err << "error: no password: set TETHER_PASSWORD or run on a terminal\n";
        return std::nullopt;
    }
    termios saved{};
    if (::tcgetattr(STDIN_FILENO, &saved) != 0) {
        err << "error: cannot read the terminal settings\n";
        return std::nullopt;
    }
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    err << prompt << std::flush;
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    std::string line;
    const bool got = static_cast<bool>(std::getline(std::cin, line));
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved); // echo back on, whatever happened
    err << '\n';
    if (!got) {
        err << "error: no password read\n";
        return std::nullopt;
    }
    return line;
}

int user_add(const user_add_options& options, const std::filesystem::path& data_dir, std::ostream& out,
             std::ostream& err) {
    if (!check_user_name(options.name, err)) return exit_usage;
    auto password = obtain_password(options.password, options.name, err);
    if (!password) return exit_usage;
    if (password->empty()) {
        err << "error: the password is empty\n";
        return exit_usage;
    }
    auto db = open(data_dir, err);
    if (!db) return exit_failure;
    const auto status = db->add_user(options.name, *password, options.admin);
    if (status == store_status::invalid) {
        err << "error: the password is too long\n";
        return exit_usage;
    }
    if (status != store_status::ok) return report(status, "user \"" + options.name + "\"", err);
    out << "added " << (options.admin ? "admin " : "user ") << options.name << '\n';
    return exit_ok;
}

int user_passwd(const user_passwd_options& options, const std::filesystem::path& data_dir, std::ostream& out,
                std::ostream& err) {
    if (!check_user_name(options.name, err)) return exit_usage;
    auto db = open(data_dir, err);
    if (!db) return exit_failure;
    if (!db->get_user(options.name)) return report(store_status::not_found, "user \"" + options.name + "\"", err);
    auto password = obtain_password(options.password, options.name, err);
    if (!password) return exit_usage;
    const auto status = db->set_password(options.name, *password);
    if (status == store_status::invalid) {
        err << "error: the password is empty or too long\n";
        return exit_usage;
    }
    if (status != store_status::ok) return report(status, "user \"" + options.name + "\"", err);
    out << "password changed for " << options.name << " (its sessions are signed out)\n";
    return exit_ok;
}

int user_list(const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err) {
    auto db = open(data_dir, err);
    if (!db) return exit_failure;
    out << fmt::format("{:<32} {:<6} {}\n", "NAME", "ADMIN", "CREATED");
    for (const auto& u : db->list_users()) {
        out << fmt::format("{:<32} {:<6} {}\n", u.name, u.admin ? "yes" : "no", date(u.created));
    }
    return exit_ok;
}

int user_delete(const std::string& name, const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err) {
    if (!check_user_name(name, err)) return exit_usage;
    auto db = open(data_dir, err);
    if (!db) return exit_failure;
    const auto status = db->delete_user(name);
    if (status != store_status::ok) return report(status, "user \"" + name + "\"", err);
    out << "deleted user " << name << " with its sessions and API keys\n";
    return exit_ok;
}

int user_set_disabled(const std::string& name, bool disabled, const std::filesystem::path& data_dir,
                      std::ostream& out, std::ostream& err) {
    if (!check_user_name(name, err)) return exit_usage;
    auto db = open(data_dir, err);
    if (!db) return exit_failure;
    const auto status = db->set_disabled(name, disabled);
    if (status != store_status::ok) return report(status, "user \"" + name + "\"", err);
    if (disabled)
        out << "disabled user " << name << ": signed out everywhere, its API keys are refused (a running broker "
            << "ends its open streams and cancels its requests within a second)\n";
    else
        out << "enabled user " << name << " (its API keys work again; it signs in anew)\n";
    return exit_ok;
}

int space_add(const space_add_options& options, const std::filesystem::path& data_dir, std::ostream& out,
              std::ostream& err) {
    space_config config;
    config.name = options.name;
    config.description = options.description;
    if (!check_space_name(options.name, err) || !parse_feature_list(options.features, config.features, err) ||
        !parse_timeout(options.timeout, config.timeout_s, err) ||
        !parse_queue_limit(options.queue_limit, config.queue_limit, err) ||
        !check_description(options.description, err)) {
        return exit_usage;
    }
    auto db = open(data_dir, err);
    if (!db) return exit_failure;
    const auto created = db->add_space(config);
    if (!created.ok()) return report(created.status, "space \"" + options.name + "\"", err);
    // The token goes alone on stdout so scripts can capture it; the note goes
    // to stderr. It is not stored anywhere in clear: this is the only copy.
    err << "created space " << options.name << " (" << features_to_string(config.features) << ", timeout "
        << config.timeout_s << " s, queue limit " << config.queue_limit
        << "); its agent token follows, shown only now:\n";
    out << created.secret << '\n';
    return exit_ok;
}

int space_edit(const space_edit_options& options, const std::filesystem::path& data_dir, std::ostream& out,
               std::ostream& err) {
    if (!check_space_name(options.name, err)) return exit_usage;
    space_config changes;
    if ((options.features && !parse_feature_list(*options.features, changes.features, err)) ||
        (options.timeout && !parse_timeout(*options.timeout, changes.timeout_s, err)) ||
        (options.queue_limit && !parse_queue_limit(*options.queue_limit, changes.queue_limit, err)) ||
        (options.description && !check_description(*options.description, err))) {
        return exit_usage;
    }
    auto db = open(data_dir, err);
    if (!db) return exit_failure;
    auto config = db->get_space(options.name);
    if (!config) return report(store_status::not_found, "space \"" + options.name + "\"", err);
    if (options.features) config->features = changes.features;
    if (options.timeout) config->timeout_s = changes.timeout_s;
    if (options.queue_limit) config->queue_limit = changes.queue_limit;
    if (options.description) config->description = *options.description;
    const auto status = db->update_space(*config);
    if (status != store_status::ok) return report(status, "space \"" + options.name + "\"", err);
    out << "updated space " << options.name << '\n';
    return exit_ok;
}

int space_token(const std::string& name, const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err) {
    if (!check_space_name(name, err)) return exit_usage;
    auto db = open(data_dir, err);
    if (!db) return exit_failure;
    const auto rotated = db->rotate_space_token(name);
    if (!rotated.ok()) return report(rotated.status, "space \"" + name + "\"", err);
    err << "new agent token for space " << name << " (the old one no longer works: a running broker closes "
        << "the agent connection that registered with it within a second), shown only now:\n";
    out << rotated.secret << '\n';
    return exit_ok;
}

int space_list(const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err) {
    auto db = open(data_dir, err);
    if (!db) return exit_failure;
    out << fmt::format("{:<24} {:<24} {:>9} {:>11}  {}\n", "NAME", "FEATURES", "TIMEOUT_S", "QUEUE_LIMIT",
                       "DESCRIPTION");
    for (const auto& s : db->list_spaces()) {
        out << fmt::format("{:<24} {:<24} {:>9} {:>11}  {}\n", s.name, features_to_string(s.features), s.timeout_s,
                           s.queue_limit, s.description);
    }
    return exit_ok;
}

int space_delete(const std::string& name, const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err) {
    if (!check_space_name(name, err)) return exit_usage;
    auto db = open(data_dir, err);
    if (!db) return exit_failure;
    const auto status = db->delete_space(name);
    if (status != store_status::ok) return report(status, "space \"" + name + "\"", err);
    out << "deleted space " << name << '\n';
    return exit_ok;
}

int apikey_add(const std::string& username, const std::filesystem::path& data_dir, std::ostream& out,
               std::ostream& err) {
    if (!check_user_name(username, err)) return exit_usage;
    auto db = open(data_dir, err);
    if (!db) return exit_failure;
    const auto created = db->create_api_key(username);
    if (!created.ok()) return report(created.status, "user \"" + username + "\"", err);
    err << "new API key for " << username << ", shown only now (use it as Authorization: Bearer KEY):\n";
    out << created.secret << '\n';
    return exit_ok;
}

int apikey_list(const std::optional<std::string>& username, const std::filesystem::path& data_dir, std::ostream& out,
                std::ostream& err) {
    if (username && !check_user_name(*username, err)) return exit_usage;
    auto db = open(data_dir, err);
    if (!db) return exit_failure;
    const auto keys = username ? db->list_api_keys(*username) : db->list_all_api_keys();
    out << fmt::format("{:>6} {:<14} {:<32} {}\n", "ID", "PREFIX", "USER", "CREATED");
    for (const auto& k : keys) {
        out << fmt::format("{:>6} {:<14} {:<32} {}\n", k.id, k.prefix + "…", k.username, date(k.created));
    }
    return exit_ok;
}

int apikey_revoke(const std::string& id, const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err) {
    std::int64_t value = 0;
    const auto* end = id.data() + id.size();
    auto [ptr, ec] = std::from_chars(id.data(), end, value);
    if (id.empty() || ec != std::errc{} || ptr != end || value < 1) {
        err << "error: bad key id \"" << id << "\": use the ID column of `apikey list`\n";
        return exit_usage;
    }
    auto db = open(data_dir, err);
    if (!db) return exit_failure;
    const auto status = db->revoke_api_key(value);
    if (status != store_status::ok) return report(status, "API key " + id, err);
    out << "revoked API key " << id << '\n';
    return exit_ok;
}

} // namespace tether::broker::admin

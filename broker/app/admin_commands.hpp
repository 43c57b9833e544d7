#pragma once
// The logic behind tether-broker's admin subcommands (user, space, apikey):
// validate the parsed options, open the store in the data directory, act,
// print. main.cpp parses flags (CLI11) into these structs and returns the code.
// Nothing here reads the environment or parses argv.

#include "store/store.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

namespace tether::broker::admin {

// Exit codes: 0 done, 1 failed (exists, not found, store error), 2 bad input.
constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

struct user_add_options {
    std::string name;
    bool admin = false;
    // The caller passes $TETHER_PASSWORD here when set; otherwise the password
    // is asked on the terminal with echo off (twice, must match).
    std::optional<std::string> password;
};
int user_add(const user_add_options& options, const std::filesystem::path& data_dir, std::ostream& out,
             std::ostream& err);

struct user_passwd_options {
    std::string name;
    std::optional<std::string> password; // as for user_add
};
int user_passwd(const user_passwd_options& options, const std::filesystem::path& data_dir, std::ostream& out,
                std::ostream& err);

int user_list(const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err);
int user_delete(const std::string& name, const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err);
// Disables (signed out everywhere, API keys refused) or enables a user.
int user_set_disabled(const std::string& name, bool disabled, const std::filesystem::path& data_dir,
                      std::ostream& out, std::ostream& err);

struct space_add_options {
    std::string name;
    std::string features = "prompt"; // comma-separated: prompt,audio,video,file
    std::string timeout = "120";     // seconds, or a duration like "2m" (tether::parse_duration)
    std::string queue_limit = "1000";
    std::string description;
};
// Prints the space's agent token, once.
int space_add(const space_add_options& options, const std::filesystem::path& data_dir, std::ostream& out,
              std::ostream& err);

// Changes only the fields given.
struct space_edit_options {
    std::string name;
    std::optional<std::string> features;
    std::optional<std::string> timeout;
    std::optional<std::string> queue_limit;
    std::optional<std::string> description;
};
int space_edit(const space_edit_options& options, const std::filesystem::path& data_dir, std::ostream& out,
               std::ostream& err);

// Rotates the agent token and prints the new one, once.
int space_token(const std::string& name, const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err);
int space_list(const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err);
int space_delete(const std::string& name, const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err);

// Prints a new API key for the user, once.
int apikey_add(const std::string& username, const std::filesystem::path& data_dir, std::ostream& out,
               std::ostream& err);
// All keys, or one user's when `username` is set (id, prefix, user, created).
int apikey_list(const std::optional<std::string>& username, const std::filesystem::path& data_dir, std::ostream& out,
                std::ostream& err);
// `id` as printed by apikey_list; given as text so bad input is exit 2 here.
int apikey_revoke(const std::string& id, const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err);

// Opens the store in `data_dir`, or says why not on `err` (nullptr).
std::unique_ptr<store> open_data(const std::filesystem::path& data_dir, std::ostream& err);

// Reads a password from the controlling terminal with echo off; nullopt (and a
// message on err) when stdin is not a terminal or reading fails.
std::optional<std::string> prompt_password(const std::string& prompt, std::ostream& err);

} // namespace tether::broker::admin

#pragma once
// Users, browser sessions and API keys. Secrets (passwords, session tokens,
// keys) are stored only as hashes; clear tokens are returned once at creation.
// Calls block on disk (verify_login also on a deliberately slow hash, ~0.1 s):
// keep them off strands that must stay responsive.

#include "store/store_types.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::broker {

// [A-Za-z0-9_.-]{1,64}, the same rule as space names.
bool valid_user_name(std::string_view name);

class account_store {
  public:
    virtual ~account_store() = default;

    // Users. add_user hashes the password (tether::hash_password); an empty
    // password or a bad name is `invalid`.
    virtual store_status add_user(const std::string& name, std::string_view password, bool admin) = 0;
    virtual std::optional<user_record> get_user(const std::string& name) = 0;
    virtual std::vector<user_record> list_users() = 0; // by name; empty on a read error (logged)
    // The same, telling a read error (`failed`, `out` untouched) from no users.
    virtual store_status read_users(std::vector<user_record>& out) = 0;
    // Also deletes the user's sessions and API keys (their requests stay).
    virtual store_status delete_user(const std::string& name) = 0;
    virtual store_status set_password(const std::string& name, std::string_view password) = 0;
    virtual store_status set_admin(const std::string& name, bool admin) = 0;
    // A disabled user cannot sign in, its sessions are deleted and its API
    // keys are refused until it is enabled again (the keys then work again).
    virtual store_status set_disabled(const std::string& name, bool disabled) = 0;
    // The user when name and password match; nullopt otherwise (same cost for
    // an unknown name, so timing does not reveal which names exist). A
    // disabled user is returned too: the caller says why it cannot sign in.
    virtual std::optional<user_record> verify_login(const std::string& name, std::string_view password) = 0;

    // Sessions: a random token (returned once) whose hash maps to a user until
    // it expires (store_options::session_ttl after creation). `invalid` for a
    // disabled user.
    virtual secret_result create_session(const std::string& username) = 0;
    // The session's user when the token is known, not expired and the user enabled.
    virtual std::optional<user_record> find_session_user(std::string_view token) = 0;
    virtual store_status delete_session(std::string_view token) = 0;
    // Housekeeping; returns how many were removed.
    virtual std::size_t delete_expired_sessions() = 0;

    // API keys: "tk_" + 48 hex characters, returned once.
    virtual secret_result create_api_key(const std::string& username) = 0;
    virtual std::vector<api_key_record> list_api_keys(const std::string& username) = 0; // oldest first
    virtual std::vector<api_key_record> list_all_api_keys() = 0;
    virtual store_status revoke_api_key(std::int64_t id) = 0;
    // Revokes only if the key belongs to `username` (not_found otherwise), for
    // "manage my own keys" without a separate ownership check.
    virtual store_status revoke_user_api_key(const std::string& username, std::int64_t id) = 0;
    // The key's user when the key is known (not revoked, user exists and is enabled).
    virtual std::optional<user_record> find_api_key_user(std::string_view key) = 0;

    // The user of a key / session token when it is known in memory, without a
    // read of the database; nullopt means "not known here" (ask find_*), not
    // "invalid". Never blocks on disk: the io threads use it to answer hot
    // API calls without a hand-off to the worker pool.
    virtual std::optional<user_record> cached_api_key_user(std::string_view /*key*/) { return std::nullopt; }
    virtual std::optional<user_record> cached_session_user(std::string_view /*token*/) { return std::nullopt; }
};

} // namespace tether::broker

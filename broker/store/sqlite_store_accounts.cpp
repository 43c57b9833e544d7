// sqlite_store: users, sessions and API keys.
#include "store/sqlite_store.hpp"

#include "tether/shared/crypto.hpp"
#include "tether/shared/ids.hpp"

#include <SQLiteCpp/Statement.h>

namespace tether::broker {
namespace {

constexpr std::string_view api_key_scheme = "tk_";
constexpr std::size_t api_key_random_bytes = 24;  // 48 hex characters
constexpr std::size_t api_key_prefix_length = 11; // "tk_" + 8 hex
constexpr std::size_t max_secret_length = 256;    // anything longer is not ours: refuse before hashing
constexpr std::size_t max_password_length = 1024;

user_record user_from(SQLite::Statement& q) {
    user_record u;
    u.name = q.getColumn(0).getString();
    u.password_hash = q.getColumn(1).getString();
    u.admin = q.getColumn(2).getInt() != 0;
    u.created = from_unix_ms(q.getColumn(3).getInt64());
    u.disabled = q.getColumn(4).getInt() != 0;
    return u;
}

api_key_record key_from(SQLite::Statement& q) {
    api_key_record k;
    k.id = q.getColumn(0).getInt64();
    k.prefix = q.getColumn(1).getString();
    k.username = q.getColumn(2).getString();
    k.created = from_unix_ms(q.getColumn(3).getInt64());
    return k;
}

bool user_exists(SQLite::Database& db, const std::string& name) {
    SQLite::Statement q(db, "SELECT 1 FROM users WHERE name = ?");
    q.bind(1, name);
    return q.executeStep();
}

// Shapes a key or session token must have before it is worth hashing.
bool plausible_api_key(std::string_view key) {
    return key.size() <= max_secret_length && key.starts_with(api_key_scheme);
}
bool plausible_session_token(std::string_view token) {
    return !token.empty() && token.size() <= max_secret_length;
}

// The credential cache's key: the kind ('k' API key, 's' session) and the token's hash.
std::string credential_key(char kind, std::string_view token_hash) {
    std::string key(1, kind);
    key += token_hash;
    return key;
}

bool valid_password(std::string_view password) {
    return !password.empty() && password.size() <= max_password_length;
}

} // namespace

bool valid_user_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    for (const char c : name) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '.' || c == '-';
        if (!ok) return false;
    }
    return true;
}

store_status sqlite_store::add_user(const std::string& name, std::string_view password, bool admin) {
    if (!valid_user_name(name) || !valid_password(password)) return store_status::invalid;
    // Hash outside the writer: it is slow on purpose and must not hold up other writes.
    const std::string hash = hash_password(password, options_.password_iterations);
    const auto now = to_unix_ms(clock_.now());
    return write_sync([&](SQLite::Database& db) {
        if (user_exists(db, name)) return store_status::already_exists;
        SQLite::Statement ins(db, "INSERT INTO users(name, password_hash, admin, created_ms) VALUES (?, ?, ?, ?)");
        ins.bind(1, name);
        ins.bind(2, hash);
        ins.bind(3, admin ? 1 : 0);
        ins.bind(4, static_cast<std::int64_t>(now));
        ins.exec();
        return store_status::ok;
    });
}

std::optional<user_record> sqlite_store::read_user_by(const char* sql, const std::string& key, std::int64_t now_ms) {
    return read<std::optional<user_record>>("user lookup", std::nullopt,
                                            [&](SQLite::Database& db) -> std::optional<user_record> {
                                                SQLite::Statement q(db, sql);
                                                q.bind(1, key);
                                                if (q.getBindParameterCount() >= 2) {
                                                    q.bind(2, static_cast<std::int64_t>(now_ms));
                                                }
                                                if (!q.executeStep()) return std::nullopt;
                                                return user_from(q);
                                            });
}

std::optional<user_record> sqlite_store::cached_user_by(char kind, const char* sql, const std::string& hash,
                                                        std::int64_t now_ms) {
    auto cache_key = credential_key(kind, hash);
    const auto now = clock_.now();
    if (auto hit = credentials_.find(cache_key, now)) return hit;
    const auto epoch = credentials_.epoch();
    auto user = read_user_by(sql, hash, now_ms);
    if (user) credentials_.put(std::move(cache_key), *user, now, epoch);
    return user;
}

std::optional<user_record> sqlite_store::get_user(const std::string& name) {
    if (!valid_user_name(name)) return std::nullopt;
    return read_user_by("SELECT name, password_hash, admin, created_ms, disabled FROM users WHERE name = ?", name, 0);
}

std::vector<user_record> sqlite_store::list_users() {
    std::vector<user_record> out;
    (void)read_users(out);
    return out;
}

store_status sqlite_store::read_users(std::vector<user_record>& out) {
    auto users = read<std::optional<std::vector<user_record>>>("list_users", std::nullopt, [](SQLite::Database& db) {
        SQLite::Statement q(db, "SELECT name, password_hash, admin, created_ms, disabled FROM users ORDER BY name");
        std::vector<user_record> all;
        while (q.executeStep())
            all.push_back(user_from(q));
        return std::optional(std::move(all));
    });
    if (!users) return store_status::failed;
    out = std::move(*users);
    return store_status::ok;
}

store_status sqlite_store::delete_user(const std::string& name) {
    if (!valid_user_name(name)) return store_status::not_found;
    return write_sync([&](SQLite::Database& db) {
        // Sessions and keys go with it (ON DELETE CASCADE).
        SQLite::Statement del(db, "DELETE FROM users WHERE name = ?");
        del.bind(1, name);
        return del.exec() > 0 ? store_status::ok : store_status::not_found;
    });
}

store_status sqlite_store::set_password(const std::string& name, std::string_view password) {
    if (!valid_password(password)) return store_status::invalid;
    if (!valid_user_name(name)) return store_status::not_found;
    const std::string hash = hash_password(password, options_.password_iterations);
    return write_sync([&](SQLite::Database& db) {
        SQLite::Statement up(db, "UPDATE users SET password_hash = ? WHERE name = ?");
        up.bind(1, hash);
        up.bind(2, name);
        if (up.exec() == 0) return store_status::not_found;
        // A new password ends every session signed in with the old one.
        SQLite::Statement del(db, "DELETE FROM sessions WHERE username = ?");
        del.bind(1, name);
        del.exec();
        return store_status::ok;
    });
}

store_status sqlite_store::set_admin(const std::string& name, bool admin) {
    if (!valid_user_name(name)) return store_status::not_found;
    return write_sync([&](SQLite::Database& db) {
        SQLite::Statement up(db, "UPDATE users SET admin = ? WHERE name = ?");
        up.bind(1, admin ? 1 : 0);
        up.bind(2, name);
        return up.exec() > 0 ? store_status::ok : store_status::not_found;
    });
}

store_status sqlite_store::set_disabled(const std::string& name, bool disabled) {
    if (!valid_user_name(name)) return store_status::not_found;
    return write_sync([&](SQLite::Database& db) {
        SQLite::Statement up(db, "UPDATE users SET disabled = ? WHERE name = ?");
        up.bind(1, disabled ? 1 : 0);
        up.bind(2, name);
        if (up.exec() == 0) return store_status::not_found;
        if (disabled) {
            // Signed out everywhere; its API keys stay but are refused while
            // it is disabled (the lookups above join on disabled = 0).
            SQLite::Statement del(db, "DELETE FROM sessions WHERE username = ?");
            del.bind(1, name);
            del.exec();
        }
        return store_status::ok;
    });
}

const std::string& sqlite_store::dummy_password_hash() {
    std::call_once(dummy_once_, [this] { dummy_hash_ = hash_password(random_hex(16), options_.password_iterations); });
    return dummy_hash_;
}

std::optional<user_record> sqlite_store::verify_login(const std::string& name, std::string_view password) {
    if (password.size() > max_password_length) return std::nullopt;
    auto user = get_user(name);
    if (!user) {
        // Spend the same time as a real check so response times do not reveal
        // which user names exist.
        (void)verify_password(password, dummy_password_hash());
        return std::nullopt;
    }
    if (!verify_password(password, user->password_hash)) return std::nullopt;
    return user; // the caller refuses a disabled user (after the password check, so it cannot probe names)
}

secret_result sqlite_store::create_session(const std::string& username) {
    if (!valid_user_name(username)) return {store_status::not_found, {}};
    std::string token = random_hex(32);
    const std::string hash = hash_token(token);
    const auto now = clock_.now();
    const auto expires = now + options_.session_ttl;
    const auto status = write_sync([&](SQLite::Database& db) {
        if (!user_exists(db, username)) return store_status::not_found;
        SQLite::Statement off(db, "SELECT 1 FROM users WHERE name = ? AND disabled != 0"); // no session for them
        off.bind(1, username);
        if (off.executeStep()) return store_status::invalid;
        SQLite::Statement ins(db,
                              "INSERT INTO sessions(token_hash, username, created_ms, expires_ms) VALUES (?, ?, ?, ?)");
        ins.bind(1, hash);
        ins.bind(2, username);
        ins.bind(3, static_cast<std::int64_t>(to_unix_ms(now)));
        ins.bind(4, static_cast<std::int64_t>(to_unix_ms(expires)));
        ins.exec();
        return store_status::ok;
    });
    if (status != store_status::ok) return {status, {}};
    return {status, std::move(token)};
}

std::optional<user_record> sqlite_store::find_session_user(std::string_view token) {
    if (!plausible_session_token(token)) return std::nullopt;
    // Looked up by the hash of the token: the clear token never reaches the
    // database, and an index lookup on a hash leaks nothing useful by timing.
    return cached_user_by('s',
                          "SELECT u.name, u.password_hash, u.admin, u.created_ms, u.disabled FROM sessions s "
                          "JOIN users u ON u.name = s.username "
                          "WHERE s.token_hash = ? AND s.expires_ms > ? AND u.disabled = 0",
                          hash_token(token), to_unix_ms(clock_.now()));
}

store_status sqlite_store::delete_session(std::string_view token) {
    if (!plausible_session_token(token)) return store_status::not_found;
    const std::string hash = hash_token(token);
    return write_sync([&](SQLite::Database& db) {
        SQLite::Statement del(db, "DELETE FROM sessions WHERE token_hash = ?");
        del.bind(1, hash);
        return del.exec() > 0 ? store_status::ok : store_status::not_found;
    });
}

std::size_t sqlite_store::delete_expired_sessions() {
    std::size_t removed = 0;
    const auto now = to_unix_ms(clock_.now());
    (void)write_sync([&](SQLite::Database& db) {
        SQLite::Statement del(db, "DELETE FROM sessions WHERE expires_ms <= ?");
        del.bind(1, static_cast<std::int64_t>(now));
        removed = static_cast<std::size_t>(del.exec());
        return store_status::ok;
    });
    return removed;
}

secret_result sqlite_store::create_api_key(const std::string& username) {
    if (!valid_user_name(username)) return {store_status::not_found, {}};
    std::string key = std::string(api_key_scheme) + random_hex(api_key_random_bytes);
    const std::string hash = hash_token(key);
    const auto now = to_unix_ms(clock_.now());
    const auto status = write_sync([&](SQLite::Database& db) {
        if (!user_exists(db, username)) return store_status::not_found;
        SQLite::Statement ins(db, "INSERT INTO api_keys(key_hash, prefix, username, created_ms) VALUES (?, ?, ?, ?)");
        ins.bind(1, hash);
        ins.bind(2, key.substr(0, api_key_prefix_length));
        ins.bind(3, username);
        ins.bind(4, static_cast<std::int64_t>(now));
        ins.exec();
        return store_status::ok;
    });
    if (status != store_status::ok) return {status, {}};
    return {status, std::move(key)};
}

std::vector<api_key_record> sqlite_store::list_api_keys(const std::string& username) {
    return read<std::vector<api_key_record>>("list_api_keys", {}, [&](SQLite::Database& db) {
        SQLite::Statement q(db, "SELECT id, prefix, username, created_ms FROM api_keys WHERE username = ? ORDER BY id");
        q.bind(1, username);
        std::vector<api_key_record> out;
        while (q.executeStep())
            out.push_back(key_from(q));
        return out;
    });
}

std::vector<api_key_record> sqlite_store::list_all_api_keys() {
    return read<std::vector<api_key_record>>("list_all_api_keys", {}, [](SQLite::Database& db) {
        SQLite::Statement q(db, "SELECT id, prefix, username, created_ms FROM api_keys ORDER BY id");
        std::vector<api_key_record> out;
        while (q.executeStep())
            out.push_back(key_from(q));
        return out;
    });
}

store_status sqlite_store::revoke_api_key(std::int64_t id) {
    return write_sync([&](SQLite::Database& db) {
        SQLite::Statement del(db, "DELETE FROM api_keys WHERE id = ?");
        del.bind(1, static_cast<std::int64_t>(id));
        return del.exec() > 0 ? store_status::ok : store_status::not_found;
    });
}

store_status sqlite_store::revoke_user_api_key(const std::string& username, std::int64_t id) {
    return write_sync([&](SQLite::Database& db) {
        SQLite::Statement del(db, "DELETE FROM api_keys WHERE id = ? AND username = ?");
        del.bind(1, static_cast<std::int64_t>(id));
        del.bind(2, username);
        return del.exec() > 0 ? store_status::ok : store_status::not_found;
    });
}

std::optional<user_record> sqlite_store::find_api_key_user(std::string_view key) {
    if (!plausible_api_key(key)) return std::nullopt;
    return cached_user_by('k',
                          "SELECT u.name, u.password_hash, u.admin, u.created_ms, u.disabled FROM api_keys k "
                          "JOIN users u ON u.name = k.username WHERE k.key_hash = ? AND u.disabled = 0",
                          hash_token(key), 0);
}

std::optional<user_record> sqlite_store::cached_api_key_user(std::string_view key) {
    if (!plausible_api_key(key)) return std::nullopt;
    return credentials_.find(credential_key('k', hash_token(key)), clock_.now());
}

std::optional<user_record> sqlite_store::cached_session_user(std::string_view token) {
    if (!plausible_session_token(token)) return std::nullopt;
    return credentials_.find(credential_key('s', hash_token(token)), clock_.now());
}

} // namespace tether::broker

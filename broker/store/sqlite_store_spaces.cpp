// sqlite_store: space configurations and their agent tokens.
#include "store/sqlite_store.hpp"

#include "tether/shared/crypto.hpp"
#include "tether/shared/ids.hpp"

#include <SQLiteCpp/Statement.h>

namespace tether::broker {
namespace {

constexpr std::uint32_t known_features = feature_prompt | feature_audio | feature_video | feature_file;
constexpr std::size_t space_token_bytes = 32; // 64 hex characters
constexpr std::size_t max_description = 4096;

bool valid_config(const space_config& c) {
    return valid_space_name(c.name) && c.features != 0 && (c.features & ~known_features) == 0 && c.timeout_s > 0 &&
           c.queue_limit > 0 && c.description.size() <= max_description;
}

space_config space_from(SQLite::Statement& q) {
    space_config c;
    c.name = q.getColumn(0).getString();
    c.description = q.getColumn(1).getString();
    c.features = static_cast<std::uint32_t>(q.getColumn(2).getInt64());
    c.timeout_s = static_cast<std::uint32_t>(q.getColumn(3).getInt64());
    c.queue_limit = static_cast<std::uint32_t>(q.getColumn(4).getInt64());
    c.token_hash = q.getColumn(5).getString();
    return c;
}

constexpr const char* select_space =
    "SELECT name, description, features, timeout_s, queue_limit, token_hash FROM spaces ";

} // namespace

secret_result sqlite_store::add_space(const space_config& config) {
    if (!valid_config(config)) return {store_status::invalid, {}};
    std::string token = random_hex(space_token_bytes);
    const std::string hash = hash_token(token);
    const auto now = to_unix_ms(clock_.now());
    const auto status = write_sync([&](SQLite::Database& db) {
        SQLite::Statement exists(db, "SELECT 1 FROM spaces WHERE name = ?");
        exists.bind(1, config.name);
        if (exists.executeStep()) return store_status::already_exists;
        SQLite::Statement ins(db, "INSERT INTO spaces(name, description, features, timeout_s, queue_limit, "
                                  "token_hash, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)");
        ins.bind(1, config.name);
        ins.bind(2, config.description);
        ins.bind(3, static_cast<std::int64_t>(config.features));
        ins.bind(4, static_cast<std::int64_t>(config.timeout_s));
        ins.bind(5, static_cast<std::int64_t>(config.queue_limit));
        ins.bind(6, hash);
        ins.bind(7, static_cast<std::int64_t>(now));
        ins.exec();
        return store_status::ok;
    });
    if (status != store_status::ok) return {status, {}};
    return {status, std::move(token)};
}

store_status sqlite_store::update_space(const space_config& config) {
    if (!valid_config(config)) return store_status::invalid;
    return write_sync([&](SQLite::Database& db) {
        SQLite::Statement up(db, "UPDATE spaces SET description = ?, features = ?, timeout_s = ?, queue_limit = ? "
                                 "WHERE name = ?");
        up.bind(1, config.description);
        up.bind(2, static_cast<std::int64_t>(config.features));
        up.bind(3, static_cast<std::int64_t>(config.timeout_s));
        up.bind(4, static_cast<std::int64_t>(config.queue_limit));
        up.bind(5, config.name);
        return up.exec() > 0 ? store_status::ok : store_status::not_found;
    });
}

store_status sqlite_store::delete_space(const std::string& name) {
    return write_sync([&](SQLite::Database& db) {
        SQLite::Statement del(db, "DELETE FROM spaces WHERE name = ?");
        del.bind(1, name);
        return del.exec() > 0 ? store_status::ok : store_status::not_found;
    });
}

std::optional<space_config> sqlite_store::get_space(const std::string& name) {
    return read<std::optional<space_config>>("get_space", std::nullopt,
                                             [&](SQLite::Database& db) -> std::optional<space_config> {
                                                 SQLite::Statement q(db, std::string(select_space) + "WHERE name = ?");
                                                 q.bind(1, name);
                                                 if (!q.executeStep()) return std::nullopt;
                                                 return space_from(q);
                                             });
}

std::vector<space_config> sqlite_store::list_spaces() {
    std::vector<space_config> out;
    (void)read_spaces(out);
    return out;
}

store_status sqlite_store::read_spaces(std::vector<space_config>& out) {
    auto spaces = read<std::optional<std::vector<space_config>>>("list_spaces", std::nullopt, [](SQLite::Database& db) {
        SQLite::Statement q(db, std::string(select_space) + "ORDER BY name");
        std::vector<space_config> all;
        while (q.executeStep())
            all.push_back(space_from(q));
        return std::optional(std::move(all));
    });
    if (!spaces) return store_status::failed;
    out = std::move(*spaces);
    return store_status::ok;
}

secret_result sqlite_store::rotate_space_token(const std::string& name) {
    std::string token = random_hex(space_token_bytes);
    const auto status = set_space_token_hash(name, hash_token(token));
    if (status != store_status::ok) return {status, {}};
    return {status, std::move(token)};
}

store_status sqlite_store::set_space_token_hash(const std::string& name, const std::string& token_hash) {
    return write_sync([&](SQLite::Database& db) {
        SQLite::Statement up(db, "UPDATE spaces SET token_hash = ? WHERE name = ?");
        up.bind(1, token_hash);
        up.bind(2, name);
        return up.exec() > 0 ? store_status::ok : store_status::not_found;
    });
}

} // namespace tether::broker

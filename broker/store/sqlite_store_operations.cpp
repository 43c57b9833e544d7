// sqlite_store: retention and tombstones, data usage, the start counter and
// the configuration version (operations_store).
#include "store/sqlite_store.hpp"

#include <SQLiteCpp/Statement.h>

namespace tether::broker {
namespace {

constexpr const char* terminal_states = "('completed', 'failed', 'timeout', 'cancelled')";

std::int64_t meta_value(SQLite::Database& db, const char* key) {
    SQLite::Statement q(db, "SELECT value FROM meta WHERE key = ?");
    q.bind(1, key);
    return q.executeStep() ? q.getColumn(0).getInt64() : 0;
}

} // namespace

std::vector<removable_request> sqlite_store::finished_requests(std::optional<time_point> cutoff, std::size_t limit,
                                                               std::size_t offset) {
    return read_maintenance<std::vector<removable_request>>("finished_requests", {}, [&](SQLite::Database& db) {
        // The WHERE repeats the partial index's condition word for word, so
        // SQLite walks requests_finished in order instead of scanning.
        std::string sql = std::string("SELECT r.id, r.username, r.finished_ms, "
                                      "(SELECT COALESCE(SUM(f.size), 0) FROM request_files f "
                                      "WHERE f.request_id = r.id) FROM requests r WHERE r.state IN ") +
                          terminal_states;
        if (cutoff) sql += " AND r.finished_ms < :cutoff";
        sql += " ORDER BY r.finished_ms LIMIT :limit OFFSET :offset";
        SQLite::Statement q(db, sql);
        if (cutoff) q.bind(":cutoff", static_cast<std::int64_t>(to_unix_ms(*cutoff)));
        q.bind(":limit", static_cast<std::int64_t>(limit));
        q.bind(":offset", static_cast<std::int64_t>(offset));
        std::vector<removable_request> out;
        while (q.executeStep()) {
            auto id = uuid::parse(q.getColumn(0).getString());
            if (!id) continue;
            removable_request r;
            r.id = *id;
            r.username = q.getColumn(1).getString();
            if (!q.getColumn(2).isNull()) r.finished = from_unix_ms(q.getColumn(2).getInt64());
            r.file_bytes = static_cast<std::uint64_t>(q.getColumn(3).getInt64());
            out.push_back(std::move(r));
        }
        return out;
    });
}

std::size_t sqlite_store::remove_requests(const std::vector<removable_request>& requests, std::string_view reason,
                                          time_point now) {
    if (requests.empty()) return 0;
    std::size_t removed = 0;
    const auto status = write_sync([&](SQLite::Database& db) {
        SQLite::Statement tomb(db, std::string("INSERT OR REPLACE INTO removed_requests(id, username, finished_ms, "
                                               "removed_ms, reason) SELECT id, username, finished_ms, ?, ? "
                                               "FROM requests WHERE id = ? AND state IN ") +
                                       terminal_states);
        SQLite::Statement del(db, std::string("DELETE FROM requests WHERE id = ? AND state IN ") + terminal_states);
        for (const auto& r : requests) {
            const std::string id = r.id.to_string();
            tomb.reset();
            tomb.bind(1, static_cast<std::int64_t>(to_unix_ms(now)));
            tomb.bind(2, std::string(reason));
            tomb.bind(3, id);
            tomb.exec();
            del.reset();
            del.bind(1, id);
            removed += static_cast<std::size_t>(del.exec()); // files and results go by ON DELETE CASCADE
        }
        return store_status::ok;
    });
    {
        // A snapshot of one of them waiting to be written again would bring it back.
        std::lock_guard lock(pending_mu_);
        for (const auto& r : requests)
            retry_.erase(r.id);
    }
    return status == store_status::ok ? removed : 0;
}

std::optional<removed_request> sqlite_store::find_removed(const uuid& id) {
    return read<std::optional<removed_request>>(
        "find_removed", std::nullopt, [&](SQLite::Database& db) -> std::optional<removed_request> {
            SQLite::Statement q(db, "SELECT username, finished_ms, removed_ms, reason FROM removed_requests "
                                    "WHERE id = ?");
            q.bind(1, id.to_string());
            if (!q.executeStep()) return std::nullopt;
            removed_request r;
            r.id = id;
            r.username = q.getColumn(0).getString();
            if (!q.getColumn(1).isNull()) r.finished = from_unix_ms(q.getColumn(1).getInt64());
            r.removed = from_unix_ms(q.getColumn(2).getInt64());
            r.reason = q.getColumn(3).getString();
            return r;
        });
}

std::size_t sqlite_store::forget_removed(time_point before) {
    std::size_t n = 0;
    (void)write_sync([&](SQLite::Database& db) {
        SQLite::Statement del(db, "DELETE FROM removed_requests WHERE removed_ms < ?");
        del.bind(1, static_cast<std::int64_t>(to_unix_ms(before)));
        n = static_cast<std::size_t>(del.exec());
        return store_status::ok;
    });
    return n;
}

std::vector<uuid> sqlite_store::removed_after(std::int64_t after_seq, std::int64_t& newest_seq) {
    newest_seq = after_seq;
    return read_maintenance<std::vector<uuid>>("removed_after", {}, [&](SQLite::Database& db) {
        SQLite::Statement q(db, "SELECT seq, id FROM removed_requests WHERE seq > ? ORDER BY seq");
        q.bind(1, static_cast<std::int64_t>(after_seq));
        std::vector<uuid> out;
        while (q.executeStep()) {
            newest_seq = q.getColumn(0).getInt64();
            if (auto id = uuid::parse(q.getColumn(1).getString())) out.push_back(*id);
        }
        return out;
    });
}

data_usage sqlite_store::usage() {
    return read_maintenance<data_usage>("usage", {}, [](SQLite::Database& db) {
        data_usage u;
        const auto pages = db.execAndGet("PRAGMA page_count").getInt64();
        const auto free_pages = db.execAndGet("PRAGMA freelist_count").getInt64();
        const auto page_size = db.execAndGet("PRAGMA page_size").getInt64();
        u.database_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(pages - free_pages, 0) * page_size);
        u.file_bytes =
            static_cast<std::uint64_t>(db.execAndGet("SELECT COALESCE(SUM(size), 0) FROM request_files").getInt64());
        return u;
    });
}

std::uint64_t sqlite_store::next_boot() {
    std::int64_t boot = 0;
    const auto status = write_sync([&](SQLite::Database& db) {
        db.exec("UPDATE meta SET value = value + 1 WHERE key = 'boot'");
        boot = meta_value(db, "boot");
        return store_status::ok;
    });
    if (status != store_status::ok) throw std::runtime_error("cannot record the broker start in the store");
    return static_cast<std::uint64_t>(boot);
}

std::uint64_t sqlite_store::config_version() {
    return read_maintenance<std::uint64_t>("config_version", 0, [](SQLite::Database& db) {
        return static_cast<std::uint64_t>(meta_value(db, "config_version"));
    });
}

} // namespace tether::broker

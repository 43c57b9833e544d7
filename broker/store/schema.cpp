#include "store/schema.hpp"

#include "tether/shared/log.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <array>
#include <stdexcept>
#include <string>

namespace tether::broker::schema {
namespace {

// v1: accounts and spaces. Times are INTEGER Unix milliseconds.
constexpr const char* v1 = R"sql(
CREATE TABLE users(
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);
CREATE TABLE sessions(
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE api_keys(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    username TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL
);
CREATE TABLE spaces(
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    features INTEGER NOT NULL,
    timeout_s INTEGER NOT NULL,
    queue_limit INTEGER NOT NULL,
    token_hash TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL
);
)sql";

// v2: requests, their files (one row per file, inputs and outputs) and their
// outcome. The state is stored as text (see request_rows.cpp for the names).
constexpr const char* v2 = R"sql(
CREATE TABLE requests(
    id TEXT PRIMARY KEY,
    space TEXT NOT NULL,
    username TEXT NOT NULL,
    prompt TEXT,
    params_json TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    deadline_ms INTEGER NOT NULL,
    dispatched_ms INTEGER,
    started_ms INTEGER,
    finished_ms INTEGER
);
CREATE TABLE request_files(
    request_id TEXT NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    blob INTEGER NOT NULL,
    field TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    mime TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL DEFAULT 0,
    path TEXT NOT NULL DEFAULT '',
    sha256 TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (request_id, direction, blob)
);
CREATE TABLE results(
    request_id TEXT PRIMARY KEY REFERENCES requests(id) ON DELETE CASCADE,
    output_text TEXT NOT NULL DEFAULT '',
    result_json TEXT NOT NULL DEFAULT '',
    inference_ms REAL,
    error_code TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT ''
);
)sql";

// v3: OpenAI-style chat messages on requests, and the indexes the read paths
// need: a user's history newest first, recovery of non-terminal requests,
// expiry sweeps of sessions, keys per user.
constexpr const char* v3 = R"sql(
ALTER TABLE requests ADD COLUMN messages_json TEXT;
CREATE INDEX requests_by_user ON requests(username, created_ms DESC, id DESC);
CREATE INDEX requests_by_created ON requests(created_ms DESC, id DESC);
CREATE INDEX requests_live ON requests(created_ms)
    WHERE state NOT IN ('completed', 'failed', 'timeout', 'cancelled');
CREATE INDEX sessions_by_expiry ON sessions(expires_ms);
CREATE INDEX api_keys_by_user ON api_keys(username);
)sql";

// v4: operations. Users can be disabled; a request remembers the id of its
// last SSE event (ids stay meaningful across restarts); finished requests are
// found by age for retention, and a removed one leaves a tombstone (410 Gone);
// `meta` holds the broker's start counter and a version that every change to
// accounts or spaces bumps (triggers, so a change made by the admin CLI in
// another process is seen by a running broker too).
constexpr const char* v4 = R"sql(
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN last_event_id INTEGER NOT NULL DEFAULT 0;
CREATE INDEX requests_finished ON requests(finished_ms)
    WHERE state IN ('completed', 'failed', 'timeout', 'cancelled');
CREATE TABLE removed_requests(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL,
    finished_ms INTEGER,
    removed_ms INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX removed_by_time ON removed_requests(removed_ms);
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta(key, value) VALUES ('boot', 0), ('config_version', 0);
CREATE TRIGGER users_changed AFTER UPDATE ON users
    BEGIN UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER users_removed AFTER DELETE ON users
    BEGIN UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER sessions_removed AFTER DELETE ON sessions
    BEGIN UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER api_keys_removed AFTER DELETE ON api_keys
    BEGIN UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER spaces_added AFTER INSERT ON spaces
    BEGIN UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER spaces_changed AFTER UPDATE ON spaces
    BEGIN UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
CREATE TRIGGER spaces_removed AFTER DELETE ON spaces
    BEGIN UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;
)sql";

constexpr std::array<const char*, 4> migrations{v1, v2, v3, v4};

bool has_version_table(SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
    return q.executeStep() && q.getColumn(0).getInt() > 0;
}

} // namespace

int current_version() {
    return static_cast<int>(migrations.size());
}

int version_of(SQLite::Database& db) {
    if (!has_version_table(db)) return 0;
    SQLite::Statement q(db, "SELECT max(version) FROM schema_version");
    if (!q.executeStep() || q.getColumn(0).isNull()) return 0;
    return q.getColumn(0).getInt();
}

void migrate(SQLite::Database& db) {
    int version = version_of(db);
    if (version > current_version()) {
        throw std::runtime_error("database schema version " + std::to_string(version) +
                                 " is newer than this broker understands (" + std::to_string(current_version()) +
                                 "); use a newer tether-broker");
    }
    const int from = version;
    for (; version < current_version(); ++version) {
        // One transaction per step: a failed step leaves the database at the
        // previous version, never half-migrated.
        SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
        db.exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
        db.exec(migrations[static_cast<std::size_t>(version)]);
        db.exec("DELETE FROM schema_version");
        SQLite::Statement set(db, "INSERT INTO schema_version(version) VALUES (?)");
        set.bind(1, version + 1);
        set.exec();
        tx.commit();
    }
    if (from != version) log::info("store: schema migrated from version {} to {}", from, version);
}

} // namespace tether::broker::schema

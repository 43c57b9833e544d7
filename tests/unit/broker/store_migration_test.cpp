// Migrations: databases written by every earlier schema version open with the
// current code, keep their data and end at the current version. The old
// schemas are spelled out here in raw SQL, as those versions wrote them.
#include "store/schema.hpp"
#include "store_test_support.hpp"

#include "tether/shared/crypto.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <catch2/catch.hpp>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::store_test;

namespace {

constexpr const char* v1_schema = R"sql(
CREATE TABLE users(name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, admin INTEGER NOT NULL DEFAULT 0,
                   created_ms INTEGER NOT NULL);
CREATE TABLE sessions(token_hash TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                      created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
CREATE TABLE api_keys(id INTEGER PRIMARY KEY AUTOINCREMENT, key_hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,
                      username TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE, created_ms INTEGER NOT NULL);
CREATE TABLE spaces(name TEXT PRIMARY KEY, description TEXT NOT NULL DEFAULT '', features INTEGER NOT NULL,
                    timeout_s INTEGER NOT NULL, queue_limit INTEGER NOT NULL, token_hash TEXT NOT NULL DEFAULT '',
                    created_ms INTEGER NOT NULL);
CREATE TABLE schema_version(version INTEGER NOT NULL);
)sql";

constexpr const char* v2_additions = R"sql(
CREATE TABLE requests(id TEXT PRIMARY KEY, space TEXT NOT NULL, username TEXT NOT NULL, prompt TEXT,
                      params_json TEXT NOT NULL DEFAULT '{}', state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                      created_ms INTEGER NOT NULL, deadline_ms INTEGER NOT NULL, dispatched_ms INTEGER,
                      started_ms INTEGER, finished_ms INTEGER);
CREATE TABLE request_files(request_id TEXT NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
                           direction TEXT NOT NULL CHECK (direction IN ('in', 'out')), blob INTEGER NOT NULL,
                           field TEXT NOT NULL DEFAULT '', name TEXT NOT NULL DEFAULT '',
                           mime TEXT NOT NULL DEFAULT '', size INTEGER NOT NULL DEFAULT 0,
                           path TEXT NOT NULL DEFAULT '', sha256 TEXT NOT NULL DEFAULT '',
                           PRIMARY KEY (request_id, direction, blob));
CREATE TABLE results(request_id TEXT PRIMARY KEY REFERENCES requests(id) ON DELETE CASCADE,
                     output_text TEXT NOT NULL DEFAULT '', result_json TEXT NOT NULL DEFAULT '', inference_ms REAL,
                     error_code TEXT NOT NULL DEFAULT '', error_message TEXT NOT NULL DEFAULT '');
)sql";

const std::string session_token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string api_key = "tk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const std::string space_token = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const std::string old_request_id = "6f1c1f3e-5b7a-4c1d-9e2f-0a1b2c3d4e5f";

void write_v1(SQLite::Database& db) {
    db.exec(v1_schema);
    SQLite::Statement user(db, "INSERT INTO users VALUES ('alice', ?, 1, 1700000000000)");
    user.bind(1, hash_password("secret", 1000));
    user.exec();
    SQLite::Statement session(db, "INSERT INTO sessions VALUES (?, 'alice', 1700000000000, 4000000000000)");
    session.bind(1, hash_token(session_token));
    session.exec();
    SQLite::Statement key(db, "INSERT INTO api_keys(key_hash, prefix, username, created_ms) "
                              "VALUES (?, 'tk_aaaaaaaa', 'alice', 1700000000000)");
    key.bind(1, hash_token(api_key));
    key.exec();
    SQLite::Statement space(db, "INSERT INTO spaces VALUES ('MySpace', 'a test space', 3, 90, 10, ?, 1700000000000)");
    space.bind(1, hash_token(space_token));
    space.exec();
    db.exec("INSERT INTO schema_version VALUES (1)");
}

void write_v2(SQLite::Database& db) {
    write_v1(db);
    db.exec(v2_additions);
    db.exec("INSERT INTO requests VALUES ('" + old_request_id +
            "', 'MySpace', 'alice', 'hi', '{\"max_tokens\":8}', 'queued', 1, 1700000000000, "
            "1700000120000, 1700000000100, NULL, NULL)");
    db.exec("INSERT INTO request_files VALUES ('" + old_request_id +
            "', 'in', 1, 'audio', 'a.wav', 'audio/wav', 44, '/d/in-1', 'beef')");
    db.exec("INSERT INTO results(request_id, output_text) VALUES ('" + old_request_id + "', 'partial')");
    db.exec("UPDATE schema_version SET version = 2");
}

constexpr const char* v3_additions = R"sql(
ALTER TABLE requests ADD COLUMN messages_json TEXT;
CREATE INDEX requests_by_user ON requests(username, created_ms DESC, id DESC);
CREATE INDEX requests_by_created ON requests(created_ms DESC, id DESC);
CREATE INDEX requests_live ON requests(created_ms)
    WHERE state NOT IN ('completed', 'failed', 'timeout', 'cancelled');
CREATE INDEX sessions_by_expiry ON sessions(expires_ms);
CREATE INDEX api_keys_by_user ON api_keys(username);
)sql";

const std::string finished_request_id = "7a2d2f4e-6c8b-4d2e-8f30-1b2c3d4e5f60";

void write_v3(SQLite::Database& db) {
    write_v2(db);
    db.exec(v3_additions);
    db.exec("INSERT INTO requests VALUES ('" + finished_request_id +
            "', 'MySpace', 'alice', 'done', '{}', 'completed', 1, 1700000000000, 1700000120000, 1700000000100, "
            "1700000000200, 1700000000900, '[{\"role\":\"user\",\"content\":\"hi\"}]')");
    db.exec("INSERT INTO results(request_id, output_text) VALUES ('" + finished_request_id + "', 'the answer')");
    db.exec("UPDATE schema_version SET version = 3");
}

void check_accounts_survived(store& s) {
    const auto alice = s.verify_login("alice", "secret");
    REQUIRE(alice);
    CHECK(alice->admin);
    CHECK(alice->created == ms(1'700'000'000'000));
    const auto by_session = s.find_session_user(session_token);
    REQUIRE(by_session);
    CHECK(by_session->name == "alice");
    const auto by_key = s.find_api_key_user(api_key);
    REQUIRE(by_key);
    CHECK(by_key->name == "alice");
    const auto space = s.get_space("MySpace");
    REQUIRE(space);
    CHECK(space->description == "a test space");
    CHECK(space->features == (feature_prompt | feature_audio));
    CHECK(space->timeout_s == 90);
    CHECK(space->queue_limit == 10);
    CHECK(space->token_hash == hash_token(space_token));
}

int version_on_disk(const std::filesystem::path& dir) {
    SQLite::Database db(database_path(dir));
    return schema::version_of(db);
}

bool has_index(const std::filesystem::path& dir, const std::string& name) {
    SQLite::Database db(database_path(dir));
    SQLite::Statement q(db, "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?");
    q.bind(1, name);
    return q.executeStep();
}

} // namespace

TEST_CASE("a new database is created at the current schema version", "[store][migration]") {
    temp_dir dir;
    manual_clock clock;
    { auto s = open_test_store(dir.path(), clock); }
    CHECK(version_on_disk(dir.path()) == schema::current_version());
    CHECK(schema::current_version() == 4);
    CHECK(std::filesystem::is_regular_file(dir.path() / "tether.db"));
    CHECK(std::filesystem::is_directory(blobs_path(dir.path())));
    SQLite::Database db(database_path(dir.path()));
    CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "wal");
}

TEST_CASE("a version 1 database keeps its accounts and spaces and gains requests", "[store][migration]") {
    temp_dir dir;
    {
        SQLite::Database db(database_path(dir.path()), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        write_v1(db);
    }
    manual_clock clock{ms(1'800'000'000'000)};
    auto s = open_test_store(dir.path(), clock);
    CHECK(version_on_disk(dir.path()) == schema::current_version());
    check_accounts_survived(*s);
    // The tables v2 and v3 added work.
    const auto r = full_record("MySpace", "alice");
    REQUIRE(write_durable(*s, r));
    CHECK(*s->get_request(r.id) == r);
    CHECK(has_index(dir.path(), "requests_by_user"));
}

TEST_CASE("a version 2 database keeps its requests, files and results", "[store][migration]") {
    temp_dir dir;
    {
        SQLite::Database db(database_path(dir.path()), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        write_v2(db);
    }
    manual_clock clock{ms(1'800'000'000'000)};
    auto s = open_test_store(dir.path(), clock);
    CHECK(version_on_disk(dir.path()) == schema::current_version());
    check_accounts_survived(*s);

    const auto id = uuid::parse(old_request_id);
    REQUIRE(id);
    const auto r = s->get_request(*id);
    REQUIRE(r);
    CHECK(r->space == "MySpace");
    CHECK(r->prompt == std::optional<std::string>("hi"));
    CHECK(r->params_json == R"({"max_tokens":8})");
    CHECK_FALSE(r->messages_json); // the column v3 added is empty for old rows
    CHECK(r->state == request_state::queued);
    CHECK(r->attempts == 1);
    CHECK(r->dispatched_at == std::optional<time_point>(ms(1'700'000'000'100)));
    CHECK_FALSE(r->started_at);
    REQUIRE(r->inputs.size() == 1);
    CHECK(r->inputs[0] == stored_file{1, "audio", "a.wav", "audio/wav", 44, "/d/in-1", "beef"});
    CHECK(r->output_text == "partial");
    const auto live = s->load_non_terminal();
    REQUIRE(live.size() == 1);
    CHECK(live[0].id == *id);
}

TEST_CASE("opening an already current database changes nothing", "[store][migration]") {
    temp_dir dir;
    manual_clock clock;
    const auto r = full_record();
    {
        auto s = open_test_store(dir.path(), clock);
        REQUIRE(write_durable(*s, r));
    }
    {
        auto s = open_test_store(dir.path(), clock);
        CHECK(*s->get_request(r.id) == r);
    }
    CHECK(version_on_disk(dir.path()) == schema::current_version());
}

TEST_CASE("a database from a newer broker is refused at open with a clear error", "[store][migration]") {
    temp_dir dir;
    manual_clock clock;
    { auto s = open_test_store(dir.path(), clock); }
    {
        SQLite::Database db(database_path(dir.path()), SQLite::OPEN_READWRITE);
        db.exec("UPDATE schema_version SET version = 99");
    }
    CHECK_THROWS_WITH(open_test_store(dir.path(), clock), Catch::Contains("newer"));
}

TEST_CASE("a version 3 database gains disabled users, event ids, tombstones and the change counter",
          "[store][migration]") {
    temp_dir dir;
    {
        SQLite::Database db(database_path(dir.path()), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        write_v3(db);
    }
    manual_clock clock{ms(1'800'000'000'000)};
    auto s = open_test_store(dir.path(), clock);
    CHECK(version_on_disk(dir.path()) == schema::current_version());
    check_accounts_survived(*s);
    CHECK_FALSE(s->get_user("alice")->disabled);

    const auto old = s->get_request(*uuid::parse(finished_request_id));
    REQUIRE(old);
    CHECK(old->last_event_id == 0); // before v4: unknown
    CHECK(old->output_text == "the answer");
    CHECK(old->messages_json == std::optional<std::string>(R"([{"role":"user","content":"hi"}])"));
    CHECK(has_index(dir.path(), "requests_finished"));

    // Retention finds the old finished request, and only it.
    const auto finished = s->finished_requests(std::nullopt, 10);
    REQUIRE(finished.size() == 1);
    CHECK(finished[0].id.to_string() == finished_request_id);

    // The counters start from the migration and the triggers are in place.
    CHECK(s->next_boot() == 1);
    const auto v = s->config_version();
    REQUIRE(s->set_disabled("alice", true) == store_status::ok);
    CHECK(s->config_version() > v);
}

// The store's operations side: disabled users, the configuration version a
// running broker watches, the start counter, finished requests and their
// tombstones for retention, data usage, and writes that fail and are retried.
#include "store_test_support.hpp"

#include "tether/shared/crypto.hpp"

#include <SQLiteCpp/Database.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::store_test;
using namespace std::chrono_literals;

namespace {

request_record finished_record(std::int64_t finished_ms, request_state state = request_state::completed,
                               std::uint64_t file_size = 0) {
    auto r = queued_record("alice", finished_ms - 1000);
    r.state = state;
    r.finished_at = ms(finished_ms);
    if (file_size > 0)
        r.outputs.push_back(stored_file{1, "", "o.bin", "application/octet-stream", file_size, "/x", ""});
    return r;
}

// Makes every write of a request row fail while the switch is on, from
// another connection, the way a full disk or an I/O error fails the writer.
struct write_failure {
    explicit write_failure(const std::filesystem::path& dir) : db(database_path(dir), SQLite::OPEN_READWRITE) {
        db.exec("CREATE TABLE IF NOT EXISTS fail_switch(on_ INTEGER)");
        db.exec("CREATE TRIGGER IF NOT EXISTS fail_insert BEFORE INSERT ON requests "
                "WHEN (SELECT count(*) FROM fail_switch) > 0 BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
        db.exec("CREATE TRIGGER IF NOT EXISTS fail_update BEFORE UPDATE ON requests "
                "WHEN (SELECT count(*) FROM fail_switch) > 0 BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    }
    void on() { db.exec("INSERT INTO fail_switch VALUES (1)"); }
    void off() { db.exec("DELETE FROM fail_switch"); }
    SQLite::Database db;
};

bool eventually(const std::function<bool()>& f, std::chrono::milliseconds within = 3s) {
    const auto until = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < until) {
        if (f()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return f();
}

} // namespace

TEST_CASE("a disabled user keeps its password but loses its sessions and its API keys until enabled",
          "[store][accounts][operations]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    REQUIRE(s->add_user("alice", "pw-123456", false) == store_status::ok);
    const auto session = s->create_session("alice");
    const auto key = s->create_api_key("alice");
    REQUIRE(session.ok());
    REQUIRE(key.ok());

    REQUIRE(s->set_disabled("alice", true) == store_status::ok);
    CHECK(s->get_user("alice")->disabled);
    CHECK_FALSE(s->find_session_user(session.secret));
    CHECK_FALSE(s->find_api_key_user(key.secret));
    CHECK(s->create_session("alice").status == store_status::invalid);
    const auto login = s->verify_login("alice", "pw-123456");
    REQUIRE(login); // the caller says "disabled", after the password matched
    CHECK(login->disabled);

    REQUIRE(s->set_disabled("alice", false) == store_status::ok);
    CHECK(s->find_api_key_user(key.secret));           // keys work again
    CHECK_FALSE(s->find_session_user(session.secret)); // sessions stay ended
    CHECK(s->set_disabled("nobody", true) == store_status::not_found);
}

TEST_CASE("every change to accounts or spaces bumps the configuration version, request writes do not",
          "[store][operations]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    auto v = s->config_version();
    auto bumped = [&] {
        const auto now = s->config_version();
        const bool changed = now != v;
        v = now;
        return changed;
    };
    space_config c;
    c.name = "sp";
    REQUIRE(s->add_space(c).ok());
    CHECK(bumped());
    REQUIRE(s->rotate_space_token("sp").ok());
    CHECK(bumped());
    c.description = "d";
    REQUIRE(s->update_space(c) == store_status::ok);
    CHECK(bumped());
    REQUIRE(s->add_user("u", "pw-123456", false) == store_status::ok);
    bumped(); // a new user revokes nothing; either way is fine
    REQUIRE(s->create_api_key("u").ok());
    const auto session = s->create_session("u");
    bumped();
    REQUIRE(write_durable(*s, queued_record("u", 1'800'000'000'000, "sp")));
    CHECK_FALSE(bumped());
    REQUIRE(s->delete_session(session.secret) == store_status::ok);
    CHECK(bumped());
    REQUIRE(s->revoke_api_key(s->list_api_keys("u").at(0).id) == store_status::ok);
    CHECK(bumped());
    REQUIRE(s->set_disabled("u", true) == store_status::ok);
    CHECK(bumped());
    REQUIRE(s->delete_user("u") == store_status::ok);
    CHECK(bumped());
    REQUIRE(s->delete_space("sp") == store_status::ok);
    CHECK(bumped());

    // Another process on the same data (the admin CLI) is seen too.
    {
        auto cli = open_test_store(dir.path(), clock);
        REQUIRE(cli->add_space(c).ok());
    }
    CHECK(bumped());
}

TEST_CASE("the change listener hears this process's account and space changes", "[store][operations]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    std::atomic<int> heard{0};
    s->set_change_listener([&] { ++heard; });
    space_config c;
    c.name = "sp";
    REQUIRE(s->add_space(c).ok());
    CHECK(heard.load() >= 1);
    const int before = heard.load();
    REQUIRE(write_durable(*s, queued_record("u", 1'800'000'000'000, "sp")));
    CHECK(heard.load() == before);
    s->set_change_listener(nullptr);
}

TEST_CASE("each broker start gets a higher start counter, kept across reopening", "[store][operations]") {
    temp_dir dir;
    manual_clock clock;
    std::uint64_t first = 0;
    {
        auto s = open_test_store(dir.path(), clock);
        first = s->next_boot();
        CHECK(s->next_boot() == first + 1);
    }
    auto s = open_test_store(dir.path(), clock);
    CHECK(s->next_boot() == first + 2);
}

TEST_CASE("finished requests are listed oldest first, never an unfinished one, with their file sizes",
          "[store][retention]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    const auto newer = finished_record(1'800'000'300'000, request_state::failed);
    const auto older = finished_record(1'800'000'100'000, request_state::completed, 5000);
    auto live = queued_record("alice", 1'700'000'000'000); // oldest of all, but queued
    for (const auto& r : {newer, older, live})
        REQUIRE(write_durable(*s, r));

    const auto all = s->finished_requests(std::nullopt, 10);
    REQUIRE(all.size() == 2);
    CHECK(all[0].id == older.id);
    CHECK(all[0].file_bytes == 5000);
    CHECK(all[0].username == "alice");
    CHECK(all[1].id == newer.id);
    const auto before = s->finished_requests(ms(1'800'000'200'000), 10);
    REQUIRE(before.size() == 1);
    CHECK(before[0].id == older.id);
    CHECK(s->finished_requests(std::nullopt, 1, 1).at(0).id == newer.id); // paging
    CHECK(s->usage().file_bytes == 5000);
    CHECK(s->usage().database_bytes > 0);
}

TEST_CASE("removed requests leave a tombstone until it is forgotten", "[store][retention]") {
    temp_dir dir;
    manual_clock clock{ms(1'800'000'500'000)};
    auto s = open_test_store(dir.path(), clock);
    const auto done = finished_record(1'800'000'100'000);
    auto live = queued_record("bob", 1'800'000'000'000);
    REQUIRE(write_durable(*s, done));
    REQUIRE(write_durable(*s, live));
    std::int64_t seq = 0;
    (void)s->removed_after(0, seq);

    removable_request not_finished{live.id, "bob", {}, 0};
    const auto removed =
        s->remove_requests({s->finished_requests(std::nullopt, 10).at(0), not_finished}, "retention", clock.now());
    CHECK(removed == 1); // the queued one is refused
    CHECK_FALSE(s->get_request(done.id));
    CHECK(s->get_request(live.id));
    const auto tomb = s->find_removed(done.id);
    REQUIRE(tomb);
    CHECK(tomb->username == "alice");
    CHECK(tomb->reason == "retention");
    CHECK(tomb->removed == clock.now());
    CHECK_FALSE(s->find_removed(live.id));

    std::int64_t newest = 0;
    const auto since = s->removed_after(seq, newest);
    CHECK(since == std::vector<uuid>{done.id});
    CHECK(newest > seq);
    CHECK(s->removed_after(newest, newest).empty());

    CHECK(s->forget_removed(clock.now()) == 0); // removed at `now`, not before
    CHECK(s->forget_removed(clock.now() + 1ms) == 1);
    CHECK_FALSE(s->find_removed(done.id));
}

TEST_CASE("a failed write is retried until it lands, and the store reports trouble meanwhile", "[store][operations]") {
    temp_dir dir;
    manual_clock clock;
    auto options = fast_options();
    options.retry_after = 50ms;
    auto s = open_store(dir.path(), clock, options);
    auto r = queued_record("alice", 1'800'000'000'000);
    REQUIRE(write_durable(*s, r));

    write_failure fault(dir.path());
    fault.on();
    r.state = request_state::dispatched;
    r.attempts = 1;
    CHECK_FALSE(write_durable(*s, r));
    CHECK_FALSE(s->healthy());
    CHECK(s->writes_waiting_retry() == 1);
    CHECK(s->get_request(r.id)->state == request_state::queued);

    fault.off();
    CHECK(eventually([&] { return s->get_request(r.id)->state == request_state::dispatched; }));
    CHECK(eventually([&] { return s->healthy(); }));
    CHECK(s->writes_waiting_retry() == 0);
}

TEST_CASE("a failed first write is final, and later snapshots queued behind it are dropped", "[store][operations]") {
    temp_dir dir;
    manual_clock clock;
    auto options = fast_options();
    options.retry_after = 50ms;
    auto s = open_store(dir.path(), clock, options);
    write_failure fault(dir.path());
    fault.on();
    auto r = queued_record("alice", 1'800'000'000'000);
    std::atomic<int> first_ok{-1};
    s->write_first(r, [&](bool ok) { first_ok = ok ? 1 : 0; });
    s->flush();
    CHECK(first_ok.load() == 0);
    CHECK(s->writes_waiting_retry() == 0);

    // The core dispatched it before it heard of the failure: that snapshot
    // must not bring the withdrawn request into the store.
    fault.off();
    r.state = request_state::dispatched;
    CHECK_FALSE(write_durable(*s, r));
    std::this_thread::sleep_for(150ms);
    CHECK_FALSE(s->get_request(r.id));
    CHECK_FALSE(s->healthy()); // nothing has been written since the failure
    // The next write succeeds at once: the statement that failed does not
    // fail its next use too (SQLiteCpp's reset() rethrows the old error).
    REQUIRE(write_durable(*s, queued_record("bob", 1'800'000'000'000)));
    CHECK(s->healthy());
}

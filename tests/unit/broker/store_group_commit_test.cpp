// The writer's group commit: many writes, few transactions, every callback once.
#include "store/group_commit_writer.hpp"
#include "store/sqlite_store.hpp"
#include "store_test_support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::store_test;

TEST_CASE("writes queued while a batch is committing share one transaction", "[store][group-commit]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    constexpr int burst = 200;
    std::atomic<int> callbacks{0};
    const auto before = s->commit_batches();
    // The first write's callback runs on the writer thread, so the writer
    // cannot start another batch until it returns: everything submitted from
    // inside it is queued together.
    s->write(queued_record("alice", 1'800'000'000'000), [&](bool ok) {
        CHECK(ok);
        for (int i = 0; i < burst; ++i) {
            s->write(queued_record("alice", 1'800'000'000'001 + i), [&](bool inner_ok) {
                CHECK(inner_ok);
                ++callbacks;
            });
        }
    });
    s->flush(); // the first write
    s->flush(); // the burst it queued
    CHECK(callbacks == burst);
    CHECK(s->commit_batches() - before == 2);
    CHECK(s->committed_writes() >= burst + 1);
    request_query q;
    q.limit = max_request_page;
    CHECK(s->list_requests(q).records.size() == burst + 1);
}

TEST_CASE("a burst from several threads is all durable, each callback called once, in fewer batches",
          "[store][group-commit]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    constexpr int threads = 4;
    constexpr int per_thread = 100;
    constexpr int total = threads * per_thread;
    std::vector<std::atomic<int>> calls(total);
    std::atomic<int> failures{0};

    // Hold the writer inside a callback until every thread has submitted, so
    // the burst is queued while the writer is busy: the property under test.
    std::mutex mu;
    std::condition_variable cv;
    int submitted = 0;
    bool gate_entered = false;
    const auto batches_before = s->commit_batches();
    s->write(queued_record("gate", 1'700'000'000'000), [&](bool) {
        std::unique_lock lock(mu);
        gate_entered = true;
        cv.notify_all();
        cv.wait_for(lock, std::chrono::seconds(10), [&] { return submitted == total; });
    });
    {
        // Only once the writer is inside the gate's callback is the burst sure
        // to queue behind it (a slow writer thread could otherwise take the
        // gate and the burst in one batch).
        std::unique_lock lock(mu);
        REQUIRE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return gate_entered; }));
    }

    std::vector<std::thread> pool;
    std::vector<std::vector<uuid>> ids(threads);
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                const int n = t * per_thread + i;
                auto r = queued_record("user" + std::to_string(t), 1'800'000'000'000 + n);
                ids[static_cast<std::size_t>(t)].push_back(r.id);
                s->write(r, [&, n](bool ok) {
                    if (!ok) ++failures;
                    ++calls[static_cast<std::size_t>(n)];
                });
                std::lock_guard lock(mu);
                ++submitted;
                cv.notify_all();
            }
        });
    }
    for (auto& th : pool)
        th.join();
    s->flush();

    CHECK(failures == 0);
    for (const auto& c : calls)
        CHECK(c == 1);
    const auto batches = s->commit_batches() - batches_before;
    CHECK(batches >= 2);
    CHECK(batches < total); // 1 for the gate, then max_batch-sized groups: 2 here
    for (const auto& per : ids) {
        for (const auto& id : per)
            CHECK(s->get_request(id));
    }
}

TEST_CASE("flush returns only after every earlier write is readable", "[store][group-commit]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    std::vector<uuid> ids;
    for (int i = 0; i < 50; ++i) {
        auto r = queued_record("alice", 1'800'000'000'000 + i);
        ids.push_back(r.id);
        s->write(r, {});
    }
    s->flush();
    for (const auto& id : ids)
        CHECK(s->get_request(id));
}

TEST_CASE("a write that fails is reported alone and the rest of its batch commits", "[store][group-commit]") {
    temp_dir dir;
    auto db = open_connection(dir.path() / "w.db", true);
    db.exec("CREATE TABLE t(v INTEGER NOT NULL UNIQUE)");
    group_commit_writer writer(std::move(db), 64);
    std::vector<int> outcome(4, -1);
    auto insert = [](int v) {
        return [v](SQLite::Database& conn) { conn.exec("INSERT INTO t(v) VALUES (" + std::to_string(v) + ")"); };
    };
    // Queued from inside a callback, so all four land in one transaction.
    writer.submit(insert(0), [&](bool ok) {
        outcome[0] = ok;
        writer.submit(insert(1), [&](bool ok1) { outcome[1] = ok1; });
        writer.submit(insert(1), [&](bool ok2) { outcome[2] = ok2; }); // UNIQUE violation
        writer.submit(insert(3), [&](bool ok3) { outcome[3] = ok3; });
    });
    writer.flush();
    writer.flush();
    CHECK(outcome == std::vector<int>{1, 1, 0, 1});
    CHECK(writer.batches() == 2);
    CHECK(writer.jobs_committed() == 3);
    writer.close();

    SQLite::Database check(dir.path() / "w.db");
    CHECK(check.execAndGet("SELECT count(*) FROM t").getInt() == 3);
}

TEST_CASE("a write after the writer closed is refused through its callback", "[store][group-commit]") {
    temp_dir dir;
    group_commit_writer writer(open_connection(dir.path() / "w.db", true), 8);
    writer.close();
    int outcome = -1;
    writer.submit([](SQLite::Database&) {}, [&](bool ok) { outcome = ok; });
    CHECK(outcome == 0);
    CHECK_FALSE(writer.run([](SQLite::Database&) {}));
}

TEST_CASE("snapshots of one request queued behind each other are written once, the newest, and every callback runs",
          "[store][group-commit]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    auto b = queued_record("alice", 1'800'000'000'001);
    const request_state states[] = {request_state::queued, request_state::dispatched, request_state::processing,
                                    request_state::streaming, request_state::completed};
    std::vector<int> called;
    bool all_ok = true;
    const auto writes_before = s->committed_writes();
    // Hold the writer inside the first write's callback (it runs on the writer
    // thread): the five snapshots of b are all queued before it can take one.
    s->write(queued_record("alice", 1'800'000'000'000), [&](bool ok) {
        CHECK(ok);
        for (int i = 0; i < 5; ++i) {
            b.state = states[i];
            b.attempts = static_cast<std::uint32_t>(i);
            if (b.state == request_state::completed) {
                b.output_text = "done";
                b.finished_at = ms(1'800'000'000'500);
            }
            s->write(b, [&called, &all_ok, i](bool inner_ok) {
                all_ok = all_ok && inner_ok;
                called.push_back(i);
            });
        }
    });
    s->flush();
    s->flush();
    CHECK(called == std::vector<int>{0, 1, 2, 3, 4}); // each once, in submission order
    CHECK(all_ok);
    CHECK(s->committed_writes() - writes_before == 2); // the first request, and b once
    auto* sq = dynamic_cast<sqlite_store*>(s.get());
    REQUIRE(sq != nullptr);
    CHECK(sq->coalesced_writes() == 4);
    const auto back = s->get_request(b.id);
    REQUIRE(back);
    CHECK(*back == b); // the newest snapshot, whole

    // Once the writer has taken a snapshot, a newer one is a write of its own.
    b.attempts = 9;
    REQUIRE(write_durable(*s, b));
    CHECK(s->get_request(b.id)->attempts == 9);
}

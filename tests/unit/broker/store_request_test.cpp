// Requests in the store: round trips, state updates, listing, recovery, reopen.
#include "store_test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::store_test;

TEST_CASE("a request with every field set reads back identical", "[store]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    const auto r = full_record();
    REQUIRE(write_durable(*s, r));
    const auto back = s->get_request(r.id);
    REQUIRE(back);
    CHECK(*back == r);
}

TEST_CASE("a request with no optional fields reads back with them still empty", "[store]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    auto r = queued_record("bob", 1'800'000'000'000);
    r.prompt.reset();
    REQUIRE(write_durable(*s, r));
    const auto back = s->get_request(r.id);
    REQUIRE(back);
    CHECK(*back == r);
    CHECK_FALSE(back->prompt);
    CHECK_FALSE(back->messages_json);
    CHECK_FALSE(back->inference_ms);
    CHECK_FALSE(back->dispatched_at);
}

TEST_CASE("a later snapshot of the same request replaces the earlier one", "[store]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    auto r = queued_record("alice", 1'800'000'000'000);
    r.inputs.push_back(stored_file{1, "audio", "a.wav", "audio/wav", 3, "/x/in-1", ""});
    s->write(r, {});

    r.state = request_state::failed;
    r.attempts = 3;
    r.finished_at = ms(1'800'000'005'000);
    r.error = protocol::error_info{"agent_lost", "the agent went away three times"};
    r.inputs.clear(); // files removed in the newer snapshot disappear too
    REQUIRE(write_durable(*s, r));

    const auto back = s->get_request(r.id);
    REQUIRE(back);
    CHECK(back->state == request_state::failed);
    CHECK(back->attempts == 3);
    CHECK(back->error.code == "agent_lost");
    CHECK(back->inputs.empty());
    CHECK(*back == r);
}

TEST_CASE("an unknown request id is not found", "[store]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    CHECK_FALSE(s->get_request(uuid::random()));
}

TEST_CASE("load_non_terminal returns only unfinished requests, oldest first", "[store]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    const request_state states[] = {request_state::queued,    request_state::dispatched, request_state::processing,
                                    request_state::streaming, request_state::completed,  request_state::failed,
                                    request_state::timeout,   request_state::cancelled};
    std::vector<uuid> live;
    std::int64_t t = 1'800'000'100'000;
    for (const auto st : states) {
        auto r = queued_record("alice", t);
        t -= 1000; // written newest first, so the order has to come from the query
        r.state = st;
        s->write(r, {});
        if (!is_terminal(st)) live.insert(live.begin(), r.id);
    }
    s->flush();
    const auto loaded = s->load_non_terminal();
    REQUIRE(loaded.size() == 4);
    for (std::size_t i = 0; i < loaded.size(); ++i) {
        CHECK(loaded[i].id == live[i]);
        CHECK_FALSE(is_terminal(loaded[i].state));
    }
}

TEST_CASE("requests submitted in the same millisecond come back in the order they were written", "[store]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    std::vector<uuid> written;
    for (int i = 0; i < 50; ++i) {
        auto r = queued_record("alice", 1'800'000'100'000); // all share created_ms
        s->write(r, {});
        written.push_back(r.id);
    }
    s->flush();
    const auto loaded = s->load_non_terminal();
    REQUIRE(loaded.size() == written.size());
    for (std::size_t i = 0; i < loaded.size(); ++i) CHECK(loaded[i].id == written[i]);
}

TEST_CASE("a user's list is newest first, limited, and pages by cursor without gaps", "[store]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    std::vector<uuid> alice_newest_first;
    for (int i = 0; i < 7; ++i) {
        auto mine = queued_record("alice", 1'800'000'000'000 + i * 1000);
        alice_newest_first.insert(alice_newest_first.begin(), mine.id);
        s->write(mine, {});
        s->write(queued_record("bob", 1'800'000'000'500 + i * 1000), {});
    }
    // Two of alice's with the same millisecond: the id breaks the tie, so paging stays exact.
    auto same_a = queued_record("alice", 1'799'000'000'000);
    auto same_b = queued_record("alice", 1'799'000'000'000);
    s->write(same_a, {});
    s->write(same_b, {});
    alice_newest_first.push_back(std::max(same_a.id, same_b.id));
    alice_newest_first.push_back(std::min(same_a.id, same_b.id));
    s->flush();

    request_query q;
    q.username = "alice";
    q.limit = 4;
    std::vector<uuid> seen;
    int pages = 0;
    for (;;) {
        const auto page = s->list_requests(q);
        REQUIRE(page.status == store_status::ok);
        REQUIRE(page.records.size() <= 4);
        for (const auto& r : page.records) {
            CHECK(r.username == "alice");
            seen.push_back(r.id);
        }
        ++pages;
        if (page.next_cursor.empty()) break;
        q.cursor = page.next_cursor;
        REQUIRE(pages < 10);
    }
    CHECK(pages == 3);
    CHECK(seen == alice_newest_first);
}

TEST_CASE("listing without a user shows everyone's, and a space filter narrows it", "[store]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    s->write(queued_record("alice", 1'800'000'000'000, "A"), {});
    s->write(queued_record("bob", 1'800'000'001'000, "B"), {});
    s->write(queued_record("carol", 1'800'000'002'000, "A"), {});
    s->flush();
    request_query all;
    CHECK(s->list_requests(all).records.size() == 3);
    request_query in_a;
    in_a.space = "A";
    const auto page = s->list_requests(in_a);
    REQUIRE(page.records.size() == 2);
    CHECK(page.records[0].username == "carol");
    CHECK(page.records[1].username == "alice");
    CHECK(page.next_cursor.empty());
}

TEST_CASE("a malformed cursor is refused as invalid", "[store]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    for (const char* bad : {"x", "12_", "_abc", "12_not-a-uuid", "1' OR 1=1 --_x"}) {
        request_query q;
        q.cursor = bad;
        CHECK(s->list_requests(q).status == store_status::invalid);
    }
}

TEST_CASE("everything written survives closing and reopening the store", "[store]") {
    temp_dir dir;
    manual_clock clock;
    const auto done = full_record();
    auto live = queued_record("alice", 1'800'000'000'000);
    live.state = request_state::dispatched;
    {
        auto s = open_test_store(dir.path(), clock);
        s->write(done, {});
        s->write(live, {});
        REQUIRE(s->add_user("alice", "pw", false) == store_status::ok);
        // No flush: closing must commit what is queued.
    }
    auto s = open_test_store(dir.path(), clock);
    const auto a = s->get_request(done.id);
    REQUIRE(a);
    CHECK(*a == done);
    const auto recovered = s->load_non_terminal();
    REQUIRE(recovered.size() == 1);
    CHECK(recovered[0] == live);
    CHECK(s->get_user("alice"));
}

TEST_CASE("a deleted request is gone with its files and result", "[store]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    const auto r = full_record();
    REQUIRE(write_durable(*s, r));
    CHECK(s->delete_request(r.id) == store_status::ok);
    CHECK_FALSE(s->get_request(r.id));
    CHECK(s->delete_request(r.id) == store_status::not_found);
    // Writing it again starts clean: no stale file rows come back.
    auto again = queued_record("alice", 1'800'000'000'000);
    again.id = r.id;
    REQUIRE(write_durable(*s, again));
    CHECK(*s->get_request(r.id) == again);
}

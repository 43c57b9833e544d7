// Retention against the real broker: finished requests older than --retain go
// with their files and answer 410 to their owner (404 to others), unfinished
// ones stay whatever their age; --max-data-size removes the oldest finished
// first; `tether-broker prune` does the same on demand, also while the broker
// runs, and the running broker answers 410 at once.
#include "integration/itest_broker.hpp"

#include "testkit/multipart_body.hpp"

#include <filesystem>
#include <regex>

using namespace tether::itest;
namespace fs = std::filesystem;

namespace {

// Submits a request with one uploaded file of `bytes` bytes; REQUIREs 202.
std::string submit_file(itest_broker& t, http_client& c, std::size_t bytes, const std::string& space = "echo") {
    multipart_body body;
    body.field("prompt", "with a file");
    body.file("file", "data.bin", "application/octet-stream", std::string(bytes, 'x'));
    auto r = c.post("/api/spaces/" + space + "/requests", body.finish(), body.content_type());
    INFO(r.describe() << "\n" << t.broker.stderr_tail());
    REQUIRE(r.status == 202);
    return r.json().str("/request_id");
}

// The agent takes the next request and completes it, with an output file when asked.
std::string complete_next(agent_client& agent, const std::string& output_bytes = {}) {
    auto req = agent.expect_request(10s);
    INFO(agent.last_error());
    REQUIRE(req);
    std::vector<tether::protocol::file_ref> files;
    if (!output_bytes.empty()) {
        REQUIRE(agent.send_blob(req->id(), 1, output_bytes));
        files.push_back({1, "", "out.bin", "application/octet-stream", output_bytes.size()});
    }
    REQUIRE(agent.send_completed(req->id(), "done", files));
    return req->id();
}

double metric(http_client& c, const std::string& line_prefix) {
    const auto body = c.get("/metrics").body;
    const auto at = body.find("\n" + line_prefix + " ");
    if (at == std::string::npos) return -1;
    return std::stod(body.substr(at + line_prefix.size() + 2));
}

} // namespace

TEST_CASE("finished requests past --retain are removed with their files and answer 410 while unfinished ones stay",
          "[retention]") {
    broker_setup s;
    s.echo.features = "prompt,file";
    s.serve_args = {"--retain", "2s", "--prune-interval", "200ms"};
    itest_broker t(s);
    auto alice = t.signed_in("alice");
    auto bob = t.signed_in("bob");
    auto admin = t.signed_in("admin");
    auto agent = t.echo_agent();

    const std::string done = submit_file(t, alice, 10'000);
    REQUIRE(complete_next(*agent, "the output file") == done);
    REQUIRE(t.wait_status(alice, done, "completed"));
    const std::string running = t.submit(alice, "held by the agent, never answered");
    REQUIRE(agent->expect_request(5s));
    const std::string waiting = submit_file(t, alice, 5'000);
    const fs::path blobs = fs::path(t.broker.data_dir()) / "blobs";
    REQUIRE(fs::exists(blobs / done));
    REQUIRE(alice.get("/api/requests/" + done + "/files/1").status == 200);

    // Within a few passes after the 2 s: gone, with its files.
    const bool gone = eventually([&] { return alice.get("/api/requests/" + done).status == 410; }, 10s, 100ms);
    INFO(t.broker.stderr_tail());
    REQUIRE(gone);
    auto r = alice.get("/api/requests/" + done);
    CHECK(r.json().str("/error/code") == "gone");
    CHECK_THAT(r.json().str("/error/message"), Catch::Contains("retention"));
    CHECK(alice.get("/api/requests/" + done + "/files/1").status == 410);
    CHECK(alice.get("/api/requests/" + done + "/events").status == 410);
    CHECK(admin.get("/api/requests/" + done).status == 410);
    CHECK(bob.get("/api/requests/" + done).status == 404); // not his: nothing confirmed
    CHECK_FALSE(fs::exists(blobs / done));

    // Older than --retain too, but not finished: kept, with its upload.
    CHECK(alice.get("/api/requests/" + running).status == 200);
    CHECK(t.request_status(alice, waiting).str("/status") == "queued");
    CHECK(fs::exists(blobs / waiting));
    const auto history = alice.get("/api/requests").body;
    CHECK(history.find(done) == std::string::npos);
    CHECK(history.find(running) != std::string::npos);
    CHECK(history.find(waiting) != std::string::npos);

    CHECK(metric(alice, "tether_retention_removed_total{reason=\"age\"}") >= 1);
    CHECK(metric(alice, "tether_retention_passes_total") >= 1);
    // The pass logs after its transaction commits: the line may trail the 410.
    const bool logged = eventually(
        [&] { return t.broker.stderr_tail(20000).find("retention: removed 1 finished request") != std::string::npos; }, 5s,
        50ms);
    INFO(t.broker.stderr_tail(20000));
    CHECK(logged);
}

TEST_CASE("a size budget (--max-data-size) removes the oldest finished requests first until the data fits",
          "[retention]") {
    broker_setup s;
    s.echo.features = "prompt,file";
    s.serve_args = {"--retain", "forever", "--max-data-size", "900KiB", "--prune-interval", "200ms"};
    s.with_bob = false;
    itest_broker t(s);
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();

    // Five finished requests of ~256 KiB each (their uploads), in order.
    std::vector<std::string> finished;
    for (int i = 0; i < 5; ++i) {
        const std::string id = submit_file(t, alice, 256U << 10);
        REQUIRE(complete_next(*agent) == id);
        REQUIRE(t.wait_status(alice, id, "completed"));
        finished.push_back(id);
    }
    // Over the budget as well, but unfinished: never removed.
    const std::string held = submit_file(t, alice, 256U << 10);
    REQUIRE(agent->expect_request(5s));

    // The oldest goes first; then let a whole pass run after that one, so
    // the data figure is fresh.
    const bool started =
        eventually([&] { return alice.get("/api/requests/" + finished[0]).status == 410; }, 10s, 100ms);
    INFO(t.broker.stderr_tail());
    REQUIRE(started);
    const double passes = metric(alice, "tether_retention_passes_total");
    REQUIRE(eventually([&] { return metric(alice, "tether_retention_passes_total") >= passes + 2; }, 10s, 100ms));
    CHECK(metric(alice, "tether_data_bytes") <= 900.0 * 1024);
    // Removed: a prefix of the finish order, and not everything.
    std::size_t removed = 0;
    while (removed < finished.size() && alice.get("/api/requests/" + finished[removed]).status == 410)
        ++removed;
    CHECK(removed >= 2);
    CHECK(removed < finished.size());
    for (std::size_t i = removed; i < finished.size(); ++i) {
        INFO("request " << i << " of " << finished.size() << " (" << removed << " removed)");
        CHECK(alice.get("/api/requests/" + finished[i]).status == 200);
    }
    CHECK_THAT(alice.get("/api/requests/" + finished[0]).json().str("/error/message"), Catch::Contains("size limit"));
    CHECK(alice.get("/api/requests/" + held).status == 200);
    CHECK(metric(alice, "tether_retention_removed_total{reason=\"size\"}") == static_cast<double>(removed));
}

TEST_CASE("tether-broker prune: a dry run changes nothing and a real run works while the broker runs", "[retention]") {
    broker_setup s;
    s.with_bob = false;
    itest_broker t(s); // default --retain 30d: the broker itself removes nothing here
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string done = t.submit(alice, "finished soon");
    REQUIRE(complete_next(*agent) == done);
    REQUIRE(t.wait_status(alice, done, "completed"));
    const std::string live = t.submit(alice, "still waiting");
    std::this_thread::sleep_for(1200ms); // older than the --retain 1s below

    auto dry = t.broker.admin({"prune", "--dry-run", "--retain", "1s"});
    INFO(dry.out << dry.err);
    REQUIRE(dry.status.code == 0);
    CHECK_THAT(dry.out, Catch::Contains("would remove 1 finished request"));
    CHECK_THAT(dry.out, Catch::Contains(done));
    CHECK(alice.get("/api/requests/" + done).status == 200);

    auto real = t.broker.admin({"prune", "--retain", "1s"});
    INFO(real.out << real.err);
    REQUIRE(real.status.code == 0);
    CHECK_THAT(real.out, Catch::Contains("removed 1 finished request"));
    // The running broker had it in memory; it answers 410 within a second or two.
    CHECK(eventually([&] { return alice.get("/api/requests/" + done).status == 410; }, 3s, 50ms));
    CHECK(alice.get("/api/requests/" + live).status == 200);

    auto bad = t.broker.admin({"prune", "--retain", "soon"});
    CHECK(bad.status.code == 2);
    CHECK_THAT(bad.err, Catch::Contains("--retain"));
}

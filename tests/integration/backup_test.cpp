// Backups of a running broker: `tether-broker backup` taken while clients keep
// submitting (some with files) and an agent keeps completing (some with output
// files) restores, with `tether-broker restore`, into a new broker that has
// every request that got its 202 before the backup began, with their files.
#include "integration/itest_broker.hpp"

#include "testkit/multipart_body.hpp"

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

using namespace tether::itest;
namespace fs = std::filesystem;

namespace {

struct accepted {
    std::string id;
    std::chrono::steady_clock::time_point at; // when the 202 arrived
    bool with_file = false;
};

} // namespace

TEST_CASE("a backup taken under load restores into a new broker with every request accepted before it began",
          "[backup]") {
    broker_setup s;
    s.echo.features = "prompt,file";
    s.echo.queue_limit = 100000;
    s.with_bob = false;
    itest_broker t(s);
    auto alice = t.signed_in("alice");

    // An agent that completes everything, with an output file every third time.
    std::atomic<bool> stop{false};
    std::atomic<int> completed{0};
    auto agent = t.echo_agent(4);
    std::thread worker([&] {
        while (!stop) {
            auto req = agent->expect_request(200ms);
            if (!req) continue;
            std::vector<tether::protocol::file_ref> files;
            if (completed % 3 == 0) {
                const std::string bytes = "output of " + req->id();
                if (!agent->send_blob(req->id(), 1, bytes)) break;
                files.push_back({1, "", "out.txt", "text/plain", bytes.size()});
            }
            if (!agent->send_completed(req->id(), "done " + req->id(), files)) break;
            ++completed;
        }
    });

    std::mutex mu;
    std::vector<accepted> log;
    std::vector<std::thread> clients;
    for (int c = 0; c < 3; ++c) {
        clients.emplace_back([&, c] {
            http_client cl = alice;
            cl.set_timeout(10s);
            for (int i = 0; !stop; ++i) {
                const bool with_file = (i + c) % 4 == 0;
                http_response r;
                if (with_file) {
                    multipart_body body;
                    body.field("prompt", "file " + std::to_string(i));
                    body.file("file", "in.txt", "text/plain",
                              "input bytes " + std::to_string(c) + "-" + std::to_string(i));
                    r = cl.post("/api/spaces/echo/requests", body.finish(), body.content_type());
                } else {
                    r = cl.post_json("/api/spaces/echo/requests", "{\"prompt\":\"json " + std::to_string(i) + "\"}");
                }
                const auto now = std::chrono::steady_clock::now();
                if (r.status != 202) continue;
                std::lock_guard lock(mu);
                log.push_back({r.json().str("/request_id"), now, with_file});
            }
        });
    }
    // Some load first, then the backup in the middle of it.
    REQUIRE(eventually(
        [&] {
            std::lock_guard lock(mu);
            return log.size() >= 150 && completed >= 50;
        },
        30s, 10ms));
    const auto began = std::chrono::steady_clock::now();
    const std::string backup_file = t.broker.data_dir() + "/../backup.db";
    auto run = t.broker.admin({"backup", "--to", backup_file});
    INFO(run.out << run.err);
    REQUIRE(run.status.code == 0);
    CHECK_THAT(run.out, Catch::Contains("backup of"));
    std::this_thread::sleep_for(300ms); // load goes on after it too
    stop = true;
    for (auto& c : clients)
        c.join();
    worker.join();

    std::vector<accepted> before;
    std::size_t after = 0;
    {
        std::lock_guard lock(mu);
        for (const auto& a : log) {
            if (a.at < began)
                before.push_back(a);
            else
                ++after;
        }
    }
    INFO(before.size() << " accepted before the backup, " << after << " after");
    REQUIRE(before.size() >= 150);
    CHECK(after > 0); // it really ran under load

    // A new broker from the backup alone.
    broker_process restored(build_broker_paths());
    auto rr = restored.admin({"restore", "--from", backup_file});
    INFO(rr.out << rr.err);
    REQUIRE(rr.status.code == 0);
    restored.start();
    auto c = restored.client();
    REQUIRE(c.login("alice", alice_password).status == 200);
    std::size_t files_checked = 0;
    std::size_t outputs_checked = 0;
    for (const auto& a : before) {
        auto r = c.get("/api/requests/" + a.id);
        INFO("request " << a.id << ": " << r.describe());
        REQUIRE(r.status == 200);
        const auto doc = r.json();
        if (a.with_file) {
            // The input file came along, under the new data directory.
            const fs::path in = fs::path(restored.data_dir()) / "blobs" / a.id / "in-1";
            CHECK(fs::is_regular_file(in));
            ++files_checked;
        }
        if (doc.str("/status") == "completed" && doc.array_size("/files").value_or(0) > 0) {
            auto dl = c.get("/api/requests/" + a.id + "/files/1");
            CHECK(dl.status == 200);
            CHECK(dl.body == "output of " + a.id);
            ++outputs_checked;
        }
    }
    INFO(files_checked << " input files and " << outputs_checked << " output files checked");
    CHECK(files_checked > 0);
    CHECK(outputs_checked > 0);
    // Restoring over a store is refused.
    auto twice = restored.admin({"restore", "--from", backup_file});
    CHECK(twice.status.code == 1);
    CHECK_THAT(twice.err, Catch::Contains("holds a store already"));
}

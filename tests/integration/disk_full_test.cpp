// A full disk, for real: the broker's data directory is a small tmpfs that
// the test fills. Submissions (JSON and uploads) then answer 503 with
// Retry-After and a clear message, nothing refused shows up anywhere, the
// broker stays up, and once space returns it accepts work again by itself;
// everything accepted before, during and after completes and survives a
// restart. Needs root (mount); CI runs as root.
#include "integration/itest_broker.hpp"

#include "testkit/multipart_body.hpp"

#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

using namespace tether::itest;
namespace fs = std::filesystem;

namespace {

// A tmpfs of `bytes` mounted on `path` for the test's lifetime (lazily
// detached at the end, so an open file cannot keep it busy).
struct tmpfs_mount {
    tmpfs_mount(std::string p, std::size_t bytes) : path(std::move(p)) {
        const std::string options = "size=" + std::to_string(bytes) + ",mode=0755";
        if (::mount("tether-test", path.c_str(), "tmpfs", 0, options.c_str()) == 0)
            mounted = true;
        else
            error = std::strerror(errno);
    }
    ~tmpfs_mount() {
        if (mounted) ::umount2(path.c_str(), MNT_DETACH);
    }
    tmpfs_mount(const tmpfs_mount&) = delete;
    tmpfs_mount& operator=(const tmpfs_mount&) = delete;
    std::string path;
    bool mounted = false;
    std::string error;
};

// Writes zeros into `file` until the filesystem is full.
void fill(const fs::path& file) {
    std::FILE* f = std::fopen(file.c_str(), "wb");
    REQUIRE(f != nullptr);
    const std::string chunk(64 << 10, '\0');
    while (std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size()) {
    }
    std::fclose(f);
    struct statvfs st {};
    REQUIRE(::statvfs(file.parent_path().c_str(), &st) == 0);
    REQUIRE(st.f_bavail * st.f_frsize < (64U << 10));
}

std::size_t history_size(http_client& c) {
    return c.get("/api/requests?limit=500").json().array_size("/requests").value_or(0);
}

} // namespace

TEST_CASE("a full disk refuses submissions with 503 and Retry-After, loses nothing, and recovers when space returns",
          "[disk]") {
    broker_process broker(build_broker_paths());
    tmpfs_mount disk(broker.data_dir(), 24U << 20);
    INFO("mount tmpfs: " << disk.error << " (this test needs root, as CI has)");
    REQUIRE(disk.mounted);
    broker.add_user("alice", alice_password);
    space_options space;
    space.features = "prompt,file";
    space.queue_limit = 100000;
    const std::string token = broker.add_space("echo", space);
    broker.start();
    auto alice = broker.client();
    REQUIRE(alice.login("alice", alice_password).status == 200);

    std::vector<std::string> accepted;
    const std::string big_prompt(256U << 10, 'p');
    auto submit = [&]() {
        auto r = alice.post_json("/api/spaces/echo/requests", "{\"prompt\":\"" + big_prompt + "\"}");
        if (r.status == 202) accepted.push_back(r.json().str("/request_id"));
        return r;
    };
    for (int i = 0; i < 3; ++i)
        REQUIRE(submit().status == 202);

    const fs::path filler = fs::path(broker.data_dir()) / "filler";
    fill(filler);
    http_response refused;
    for (int i = 0; i < 60 && refused.status != 503; ++i) {
        auto r = submit();
        INFO(r.describe() << "\n" << broker.stderr_tail());
        REQUIRE((r.status == 202 || r.status == 503));
        if (r.status == 503) refused = r;
    }
    INFO(broker.stderr_tail());
    REQUIRE(refused.status == 503);
    CHECK(refused.header("Retry-After") == "5");
    CHECK(refused.json().str("/error/code") == "store_unavailable");
    CHECK_THAT(refused.json().str("/error/message"), Catch::Contains("nothing was accepted"));

    // An upload cannot even be spooled: the same answer.
    multipart_body body;
    body.field("prompt", "upload");
    body.file("file", "big.bin", "application/octet-stream", std::string(1U << 20, 'u'));
    auto upload = alice.post("/api/spaces/echo/requests", body.finish(), body.content_type());
    CHECK(upload.status == 503);
    CHECK(upload.json().str("/error/code") == "store_unavailable");

    // Up, and honest about it; what was refused is nowhere.
    CHECK(alice.get("/healthz").status == 200);
    CHECK(alice.get("/readyz").status == 503);
    CHECK(history_size(alice) == accepted.size());

    // Space returns: the broker takes work again by itself.
    fs::remove(filler);
    const bool back = eventually([&] { return submit().status == 202; }, 15s, 200ms);
    INFO(broker.stderr_tail());
    REQUIRE(back);
    CHECK(eventually([&] { return alice.get("/readyz").status == 200; }, 5s));

    // Everything accepted runs to the end, once, and is still there after a restart.
    auto agent = broker.agent();
    REQUIRE(agent->connect());
    REQUIRE(agent->register_space("echo", token, 4));
    std::set<std::string> wanted(accepted.begin(), accepted.end());
    std::set<std::string> delivered;
    while (delivered.size() < wanted.size()) {
        auto req = agent->expect_request(10s);
        INFO(agent->last_error() << " after " << delivered.size() << " of " << wanted.size());
        REQUIRE(req);
        CHECK(wanted.count(req->id()) == 1); // nothing refused was ever dispatched
        CHECK(delivered.insert(req->id()).second);
        REQUIRE(agent->send_completed(req->id(), "ok"));
    }
    for (const auto& id : accepted)
        CHECK(eventually([&] { return alice.get("/api/requests/" + id).json().str("/status") == "completed"; }, 5s));
    agent.reset();
    REQUIRE(broker.stop().exited);
    broker.restart();
    REQUIRE(alice.login("alice", alice_password).status == 200);
    CHECK(history_size(alice) == accepted.size());
    for (const auto& id : accepted)
        CHECK(alice.get("/api/requests/" + id).json().str("/status") == "completed");
}

// Files both ways through the real broker: multipart uploads reach the agent
// as blob frames with the same bytes; output files the agent sends back are
// downloadable over HTTP.
#include "integration/itest_broker.hpp"

#include "testkit/multipart_body.hpp"
#include "tether/shared/crypto.hpp"

#include <random>

using namespace tether::itest;

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::string out(n, '\0');
    for (auto& c : out) {
        c = static_cast<char>(gen() & 0xFFU);
    }
    return out;
}

broker_setup media_space() {
    broker_setup s;
    s.echo.features = "prompt,audio,file";
    s.with_bob = false;
    return s;
}

} // namespace

TEST_CASE("a multipart upload reaches the agent as blob frames with the same bytes", "[uploads]") {
    itest_broker t(media_space());
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();

    const std::string audio = random_bytes(300U << 10, 1);
    const std::string file = random_bytes((1U << 20) + (200U << 10), 2); // over one 1 MiB chunk
    multipart_body form;
    form.field("prompt", "transcribe this")
        .file("audio", "voice.wav", "audio/wav", audio)
        .file("file", "notes.bin", "application/octet-stream", file);
    const std::string body = form.finish();
    auto r = alice.post("/api/spaces/echo/requests", body, form.content_type());
    INFO(r.describe());
    REQUIRE(r.status == 202);
    const std::string id = r.json().str("/request_id");

    auto req = agent->expect_request(10s);
    INFO(agent->last_error());
    REQUIRE(req);
    CHECK(req->id() == id);
    CHECK(req->frame.prompt == std::optional<std::string>("transcribe this"));
    REQUIRE(req->frame.files.size() == 2);
    for (const auto& f : req->frame.files) {
        INFO("file field " << f.field << " blob " << f.blob);
        REQUIRE(req->blobs.count(f.blob) == 1);
        const std::string& got = req->blobs.at(f.blob);
        if (f.field == "audio") {
            CHECK(f.name == "voice.wav");
            CHECK(f.mime == "audio/wav");
            CHECK(f.size == audio.size());
            CHECK(tether::sha256_hex(got) == tether::sha256_hex(audio));
        } else {
            CHECK(f.field == "file");
            CHECK(f.name == "notes.bin");
            CHECK(f.size == file.size());
            CHECK(tether::sha256_hex(got) == tether::sha256_hex(file));
        }
    }
}

TEST_CASE("an output file from the agent is downloadable with its bytes and type", "[uploads]") {
    itest_broker t(media_space());
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string id = t.submit(alice, "make a sound");
    REQUIRE(agent->expect_request());

    const std::string wav = random_bytes((1U << 20) + 12345, 3);
    REQUIRE(agent->send_processing(id));
    REQUIRE(agent->send_blob(id, 1, wav, 256U << 10));
    tether::protocol::file_ref out;
    out.blob = 1;
    out.name = "out.wav";
    out.mime = "audio/wav";
    out.size = wav.size();
    REQUIRE(agent->send_completed(id, "here you go", {out}));
    REQUIRE(t.wait_status(alice, id, "completed", 5s));

    auto status = t.request_status(alice, id);
    INFO(status.text());
    CHECK(status.text().find("out.wav") != std::string::npos);

    auto dl = alice.get("/api/requests/" + id + "/files/1");
    INFO(dl.status << " " << dl.body.substr(0, 200));
    REQUIRE(dl.status == 200);
    CHECK(dl.body.size() == wav.size());
    CHECK(tether::sha256_hex(dl.body) == tether::sha256_hex(wav));
    CHECK(dl.header("Content-Type").rfind("audio/wav", 0) == 0);

    // Another user cannot fetch it; an unknown blob is 404.
    CHECK(alice.get("/api/requests/" + id + "/files/7").status == 404);
    auto anon = t.broker.client();
    CHECK(anon.get("/api/requests/" + id + "/files/1").status == 401);
}

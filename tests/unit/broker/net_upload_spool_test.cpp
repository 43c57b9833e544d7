// The upload spool: file fields land on disk (hashed, sized), text fields in
// memory, the total is bounded, and files of a form nobody adopted are removed.
#include "net/sse_channel.hpp"
#include "net/upload_spool.hpp"

#include "tether/shared/crypto.hpp"
#include "tether/shared/ids.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using tether::broker::net::sse_channel;
using tether::broker::net::upload_spool;

namespace {

struct temp_dir {
    fs::path path = fs::temp_directory_path() / ("tether-spool-" + tether::random_hex(8));
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::string form(const std::string& file_bytes) {
    return "--B\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nsay it\r\n"
           "--B\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"../../a.wav\"\r\n"
           "Content-Type: audio/wav\r\n\r\n" +
           file_bytes + "\r\n--B--\r\n";
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace

TEST_CASE("a file field is streamed to disk with its size and hash, text stays in memory", "[net][upload]") {
    temp_dir dir;
    std::string bytes(200'000, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
    auto body = form(bytes);
    upload_spool spool("B", dir.path.string(), 1 << 20);
    for (std::size_t i = 0; i < body.size(); i += 4096)
        REQUIRE(spool.feed(std::string_view(body).substr(i, 4096)) == upload_spool::status::ok);
    REQUIRE(spool.finish() == upload_spool::status::ok);
    auto f = spool.take();
    REQUIRE(f);
    CHECK(f->fields.at("prompt") == "say it");
    REQUIRE(f->files.size() == 1);
    const auto& file = f->files[0];
    CHECK(file.field == "audio");
    CHECK(file.name == "a.wav"); // no path from the client survives
    CHECK(file.mime == "audio/wav");
    CHECK(file.size == bytes.size());
    CHECK(file.sha256 == tether::sha256_hex(bytes));
    CHECK(read_file(file.path) == bytes);
    auto path = file.path;
    f.reset(); // not adopted: removed
    CHECK_FALSE(fs::exists(path));
}

TEST_CASE("an upload past its limit is refused as too large", "[net][upload]") {
    temp_dir dir;
    auto body = form(std::string(5000, 'x'));
    upload_spool spool("B", dir.path.string(), 1000);
    auto st = upload_spool::status::ok;
    for (std::size_t i = 0; i < body.size() && st == upload_spool::status::ok; i += 512)
        st = spool.feed(std::string_view(body).substr(i, 512));
    CHECK(st == upload_spool::status::too_large);
}

TEST_CASE("a body without its closing boundary is malformed", "[net][upload]") {
    temp_dir dir;
    auto body = form("abc");
    upload_spool spool("B", dir.path.string(), 1 << 20);
    REQUIRE(spool.feed(std::string_view(body).substr(0, body.size() - 10)) == upload_spool::status::ok);
    CHECK(spool.finish() == upload_spool::status::malformed);
}

TEST_CASE("an SSE event carries its id and splits newlines in data over data: lines", "[net][sse]") {
    CHECK(sse_channel::format_event(7, "delta", "{\"a\":1}") == "id: 7\nevent: delta\ndata: {\"a\":1}\n\n");
    CHECK(sse_channel::format_event(1, "x", "a\nb\r\nc") == "id: 1\nevent: x\ndata: a\ndata: b\ndata: c\n\n");
}

TEST_CASE("SSE events queued before a writer attaches are kept in order and none come after finish", "[net][sse]") {
    struct recorder : tether::broker::net::sse_writer {
        std::string got;
        bool closed = false;
        void post_bytes(std::string b) override { got += b; }
        void post_close() override { closed = true; }
    };
    sse_channel ch;
    ch.push("one ");
    ch.push("two ");
    ch.finish();
    ch.push("late");
    auto w = std::make_shared<recorder>();
    ch.attach(w);
    CHECK(w->got == "one two ");
    CHECK(w->closed);
    CHECK(ch.closed());
}

// Request files on disk: streaming writes, size limit, hashing, removal.
#include "store/blob_store.hpp"
#include "store_test_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::store_test;

namespace {
std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
std::filesystem::path part_of(std::filesystem::path p) {
    p += ".part";
    return p;
}
} // namespace

TEST_CASE("a file written in chunks lands at its path with its size and sha256", "[store][blobs]") {
    temp_dir dir;
    blob_store blobs(dir.path() / "blobs");
    const auto id = uuid::random();
    std::error_code ec;
    auto w = blobs.open_input(id, 1, 1 << 20, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(w.is_open());
    std::string expected;
    for (int i = 0; i < 100; ++i) {
        const std::string chunk(1000, static_cast<char>('a' + i % 26));
        REQUIRE(w.write(chunk) == blob_write_status::ok);
        expected += chunk;
    }
    CHECK_FALSE(std::filesystem::exists(blobs.input_path(id, 1))); // not under its final name yet
    const auto done = w.finish(ec);
    REQUIRE_FALSE(ec);
    CHECK(done.path == dir.path() / "blobs" / id.to_string() / "in-1");
    CHECK(done.size == expected.size());
    CHECK(done.sha256 == sha256_hex(expected));
    CHECK(read_file(done.path) == expected);
    CHECK_FALSE(std::filesystem::exists(part_of(done.path)));
    CHECK(w.write("more") == blob_write_status::closed);
}

TEST_CASE("a file may reach its size limit exactly but not pass it", "[store][blobs]") {
    temp_dir dir;
    blob_store blobs(dir.path() / "blobs");
    const auto id = uuid::random();
    std::error_code ec;
    auto exact = blobs.open_output(id, 1, 10, ec);
    REQUIRE(exact.write("12345") == blob_write_status::ok);
    REQUIRE(exact.write("67890") == blob_write_status::ok);
    REQUIRE(exact.write("") == blob_write_status::ok);
    const auto done = exact.finish(ec);
    REQUIRE_FALSE(ec);
    CHECK(done.size == 10);
    CHECK(done.path == blobs.output_path(id, 1));

    auto over = blobs.open_output(id, 2, 10, ec);
    REQUIRE(over.write("123456") == blob_write_status::ok);
    CHECK(over.write("12345") == blob_write_status::too_large);
    CHECK_FALSE(over.is_open());
    CHECK_FALSE(std::filesystem::exists(part_of(blobs.output_path(id, 2))));
    CHECK_FALSE(std::filesystem::exists(blobs.output_path(id, 2)));
    CHECK(over.write("1") == blob_write_status::closed);
}

TEST_CASE("an empty file has the sha256 of nothing", "[store][blobs]") {
    temp_dir dir;
    blob_store blobs(dir.path() / "blobs");
    std::error_code ec;
    auto w = blobs.open_input(uuid::random(), 3, 0, ec);
    const auto done = w.finish(ec);
    REQUIRE_FALSE(ec);
    CHECK(done.size == 0);
    CHECK(done.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("a writer dropped or aborted before finishing leaves no file", "[store][blobs]") {
    temp_dir dir;
    blob_store blobs(dir.path() / "blobs");
    const auto id = uuid::random();
    std::error_code ec;
    {
        auto w = blobs.open_input(id, 1, 100, ec);
        REQUIRE(w.write("partial") == blob_write_status::ok);
        REQUIRE(std::filesystem::exists(part_of(blobs.input_path(id, 1))));
    }
    CHECK_FALSE(std::filesystem::exists(part_of(blobs.input_path(id, 1))));
    auto w = blobs.open_input(id, 2, 100, ec);
    REQUIRE(w.write("partial") == blob_write_status::ok);
    w.abort();
    CHECK_FALSE(std::filesystem::exists(part_of(blobs.input_path(id, 2))));
    CHECK_FALSE(std::filesystem::exists(blobs.input_path(id, 2)));
}

TEST_CASE("removing a request's files removes its directory and nothing else", "[store][blobs]") {
    temp_dir dir;
    blob_store blobs(dir.path() / "blobs");
    const auto gone = uuid::random();
    const auto kept = uuid::random();
    std::error_code ec;
    for (const auto& id : {gone, kept}) {
        auto in = blobs.open_input(id, 1, 100, ec);
        REQUIRE(in.write("x") == blob_write_status::ok);
        in.finish(ec);
        auto out = blobs.open_output(id, 1, 100, ec);
        REQUIRE(out.write("y") == blob_write_status::ok);
        out.finish(ec);
    }
    CHECK_FALSE(blobs.remove_request(gone));
    CHECK_FALSE(std::filesystem::exists(blobs.request_dir(gone)));
    CHECK(std::filesystem::exists(blobs.input_path(kept, 1)));
    CHECK(std::filesystem::exists(blobs.output_path(kept, 1)));
    CHECK_FALSE(blobs.remove_request(gone)); // already gone is fine
}

TEST_CASE("a writer that cannot open its file reports an error", "[store][blobs]") {
    temp_dir dir;
    // A regular file where the blobs directory should be.
    std::ofstream(dir.path() / "blobs") << "not a directory";
    blob_store blobs(dir.path() / "blobs");
    std::error_code ec;
    auto w = blobs.open_input(uuid::random(), 1, 100, ec);
    CHECK(ec);
    CHECK_FALSE(w.is_open());
    CHECK(w.write("x") == blob_write_status::closed);
}

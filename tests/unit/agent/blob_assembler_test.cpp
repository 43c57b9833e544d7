// Input blob reassembly: files come back whole, and every size bound holds.

#include "net/blob_assembler.hpp"

#include "tether/shared/crypto.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace tether::agent;
using tether::protocol::file_ref;

namespace {

file_ref ref(std::uint32_t blob, std::string name, std::uint64_t size) {
    file_ref r;
    r.blob = blob;
    r.field = "file";
    r.name = std::move(name);
    r.mime = "application/octet-stream";
    r.size = size;
    return r;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace

TEST_CASE("chunks of two files are reassembled in memory") {
    std::string err;
    blob_assembler a({ref(1, "a.txt", 5), ref(2, "b.bin", 3)}, {}, err);
    REQUIRE(err.empty());
    CHECK_FALSE(a.complete());
    CHECK_FALSE(a.add_chunk(1, false, "hel"));
    CHECK_FALSE(a.add_chunk(2, true, "xyz"));
    CHECK_FALSE(a.complete());
    CHECK_FALSE(a.add_chunk(1, true, "lo"));
    REQUIRE(a.complete());
    spooled_files spool;
    auto files = a.take_files(spool);
    REQUIRE(files.size() == 2);
    CHECK(files[0].name == "a.txt");
    CHECK(files[0].bytes == "hello");
    CHECK(files[0].path.empty());
    CHECK(files[1].bytes == "xyz");
    CHECK(spool.paths().empty());
}

TEST_CASE("a file over the memory threshold is spooled to disk and removed with the job") {
    blob_limits limits;
    limits.memory_threshold = 4;
    std::string err;
    std::string path;
    const std::string data = "0123456789";
    {
        blob_assembler a({ref(1, "big", data.size())}, limits, err);
        REQUIRE(err.empty());
        CHECK_FALSE(a.add_chunk(1, false, data.substr(0, 6)));
        CHECK_FALSE(a.add_chunk(1, true, data.substr(6)));
        REQUIRE(a.complete());
        spooled_files spool;
        auto files = a.take_files(spool);
        REQUIRE(files.size() == 1);
        path = files[0].path;
        REQUIRE_FALSE(path.empty());
        CHECK(files[0].bytes.empty());
        CHECK(slurp(path) == data);
        CHECK(tether::sha256_hex(slurp(path)) == tether::sha256_hex(data));
    }
    CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a half-received spooled file is removed when the request is dropped") {
    blob_limits limits;
    limits.memory_threshold = 1;
    std::string err;
    auto dir = std::filesystem::temp_directory_path() / "tether-agent-blob-test";
    std::filesystem::create_directories(dir);
    limits.spool_dir = dir.string();
    {
        blob_assembler a({ref(1, "big", 100)}, limits, err);
        REQUIRE(err.empty());
        CHECK_FALSE(a.add_chunk(1, false, "0123456789"));
        CHECK_FALSE(std::filesystem::is_empty(dir));
    }
    CHECK(std::filesystem::is_empty(dir));
    std::filesystem::remove_all(dir);
}

TEST_CASE("a chunk past the declared size is refused") {
    std::string err;
    blob_assembler a({ref(1, "a", 4)}, {}, err);
    CHECK_FALSE(a.add_chunk(1, false, "abc"));
    auto e = a.add_chunk(1, false, "de");
    REQUIRE(e);
    CHECK(e->find("longer") != std::string::npos);
}

TEST_CASE("a last chunk short of the declared size is refused") {
    std::string err;
    blob_assembler a({ref(1, "a", 4)}, {}, err);
    auto e = a.add_chunk(1, true, "ab");
    REQUIRE(e);
    CHECK_FALSE(a.complete());
}

TEST_CASE("chunks for an unnamed blob or after the last chunk are refused") {
    std::string err;
    blob_assembler a({ref(1, "a", 2)}, {}, err);
    CHECK(a.add_chunk(7, true, "x"));
    CHECK_FALSE(a.add_chunk(1, true, "ab"));
    CHECK(a.add_chunk(1, true, "c"));
}

TEST_CASE("declared sizes over the per-file or per-request limit are refused up front") {
    blob_limits limits;
    limits.max_file_bytes = 10;
    limits.max_request_bytes = 15;
    std::string err;
    {
        blob_assembler a({ref(1, "big", 11)}, limits, err);
        CHECK(err.find("big") != std::string::npos);
    }
    {
        blob_assembler a({ref(1, "x", 8), ref(2, "y", 8)}, limits, err);
        CHECK_FALSE(err.empty());
    }
    {
        blob_assembler a({ref(1, "x", 8), ref(1, "y", 1)}, limits, err);
        CHECK(err.find("twice") != std::string::npos);
    }
}

TEST_CASE("an empty file is complete without any chunk, and tolerates one empty last chunk") {
    std::string err;
    blob_assembler a({ref(1, "empty", 0)}, {}, err);
    REQUIRE(err.empty());
    CHECK(a.complete());
    CHECK_FALSE(a.add_chunk(1, true, ""));
    CHECK(a.add_chunk(1, true, "x"));
}

#pragma once
// Reassembles the input files of one inference_request from the binary blob
// frames that follow it. Every byte is bounded: by the size the request
// declared for that file and by per-file and per-request limits. Small files
// stay in memory; larger ones are spooled to a temporary file that is removed
// when the job that uses it ends. No sockets here: chunks in, files out.

#include "backends/backend.hpp"

#include "tether/protocol/frames.hpp"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent {

struct blob_limits {
    std::uint64_t max_file_bytes = 512ULL << 20;     // one input file
    std::uint64_t max_request_bytes = 1024ULL << 20; // all inputs of one request
    std::uint64_t memory_threshold = 8ULL << 20;     // larger files go to disk
    std::string spool_dir;                           // "" = the system temp dir
};

// Temporary files of one job, deleted when this goes away.
class spooled_files {
  public:
    spooled_files() = default;
    ~spooled_files();
    spooled_files(spooled_files&& o) noexcept : paths_(std::move(o.paths_)) { o.paths_.clear(); }
    spooled_files& operator=(spooled_files&& o) noexcept;
    spooled_files(const spooled_files&) = delete;
    spooled_files& operator=(const spooled_files&) = delete;
    void add(std::string path) { paths_.push_back(std::move(path)); }
    const std::vector<std::string>& paths() const { return paths_; }

  private:
    void remove_all();
    std::vector<std::string> paths_;
};

class blob_assembler {
  public:
    // Checks the declared files against the limits; `error` says why they
    // are refused (then the assembler must not be used).
    blob_assembler(const std::vector<protocol::file_ref>& refs, blob_limits limits, std::string& error);
    ~blob_assembler();
    blob_assembler(const blob_assembler&) = delete;
    blob_assembler& operator=(const blob_assembler&) = delete;

    // One chunk of blob `blob`. Returns an error message when the chunk breaks
    // the declared sizes or order; the request should then be failed.
    std::optional<std::string> add_chunk(std::uint32_t blob, bool last, std::string_view data);
    bool complete() const;
    // The finished files (valid once complete()); the spool owns their temp files.
    std::vector<input_file> take_files(spooled_files& spool);

  private:
    struct slot {
        protocol::file_ref ref;
        std::uint64_t received = 0;
        bool done = false;
        std::string bytes;
        std::string path;
        std::FILE* out = nullptr;
    };
    slot* find(std::uint32_t blob);
    void close_all(bool remove_files);

    blob_limits limits_;
    std::vector<slot> slots_;
};

} // namespace tether::agent

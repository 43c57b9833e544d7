#pragma once
// Streams one file to disk chunk by chunk, counting bytes and hashing them
// (SHA-256) as they pass, refusing to grow past a limit. Writes "<path>.part"
// and renames it to <path> on finish, so a half-written file never has the
// final name. Move-only; a writer dropped before finish() removes its file.

#include "tether/shared/crypto.hpp"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace tether::broker {

enum class blob_write_status {
    ok,
    too_large, // the chunk would take the file past max_bytes; the file is removed
    io_error,  // the disk refused; the file is removed
    closed,    // finish() or abort() already ran, or the writer never opened
};

struct finished_blob {
    std::filesystem::path path;
    std::uint64_t size = 0;
    std::string sha256; // lower-case hex
};

class blob_writer {
  public:
    blob_writer() = default; // closed
    // Opens "<path>.part" for writing (creating parent directories).
    static blob_writer open(std::filesystem::path path, std::uint64_t max_bytes, std::error_code& ec);

    blob_writer(blob_writer&& other) noexcept;
    blob_writer& operator=(blob_writer&& other) noexcept;
    blob_writer(const blob_writer&) = delete;
    blob_writer& operator=(const blob_writer&) = delete;
    ~blob_writer();

    bool is_open() const { return file_ != nullptr; }
    std::uint64_t size() const { return size_; }
    const std::filesystem::path& path() const { return path_; }

    blob_write_status write(std::string_view chunk);
    // Flushes, closes and renames into place; `ec` set (and the file removed) on failure.
    finished_blob finish(std::error_code& ec);
    // Drops the partial file.
    void abort();

  private:
    std::filesystem::path part_path() const;
    void close_and_remove();

    std::FILE* file_ = nullptr;
    std::filesystem::path path_;
    std::uint64_t max_bytes_ = 0;
    std::uint64_t size_ = 0;
    sha256 hash_;
};

} // namespace tether::broker

#pragma once
// Where request files live on disk: <data>/blobs/<request-id>/in-<blob> and
// out-<blob>. Hands out streaming writers; never reads a whole file into memory.
// Knows nothing of SQLite: the request's stored_file rows point at these paths.

#include "store/blob_writer.hpp"
#include "tether/shared/ids.hpp"

#include <cstdint>
#include <filesystem>
#include <system_error>

namespace tether::broker {

class blob_store {
  public:
    // `root` is <data>/blobs; created (with parents) on the first writer.
    explicit blob_store(std::filesystem::path root);

    const std::filesystem::path& root() const { return root_; }
    std::filesystem::path request_dir(const uuid& request) const;
    std::filesystem::path input_path(const uuid& request, std::uint32_t blob) const;
    std::filesystem::path output_path(const uuid& request, std::uint32_t blob) const;

    // A writer for the input / output file; it writes "<path>.part" and renames
    // on finish. `max_bytes` bounds the file; `ec` is set if it cannot be opened.
    blob_writer open_input(const uuid& request, std::uint32_t blob, std::uint64_t max_bytes, std::error_code& ec) const;
    blob_writer open_output(const uuid& request, std::uint32_t blob, std::uint64_t max_bytes,
                            std::error_code& ec) const;

    // Moves an upload spooled at `spooled` to the request's input `blob`
    // (a rename: the spool is on the same file system); returns where it now is.
    std::filesystem::path adopt_input(const uuid& request, std::uint32_t blob, const std::filesystem::path& spooled,
                                      std::error_code& ec) const;

    // Removes every file of the request (its directory). Missing is fine.
    std::error_code remove_request(const uuid& request) const;

  private:
    std::filesystem::path root_;
};

} // namespace tether::broker

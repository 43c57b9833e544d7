#pragma once
// A read-only memory mapping of a whole file (weights are mapped, never read
// into memory first). Shared: tensors that point into the mapping keep it.

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string_view>

namespace tether::agent::hf {

class mapped_file {
  public:
    // Throws folder_error naming the file when it cannot be opened or mapped.
    static std::shared_ptr<const mapped_file> open(const std::filesystem::path& path);
    ~mapped_file();
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;

    std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }
    const std::filesystem::path& path() const { return path_; }

  private:
    mapped_file() = default;
    std::filesystem::path path_;
    void* data_ = nullptr;
    std::size_t size_ = 0;
};

} // namespace tether::agent::hf

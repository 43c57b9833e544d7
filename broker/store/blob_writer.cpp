#include "store/blob_writer.hpp"

#include <cerrno>
#include <utility>

namespace tether::broker {

blob_writer blob_writer::open(std::filesystem::path path, std::uint64_t max_bytes, std::error_code& ec) {
    ec.clear();
    blob_writer w;
    w.path_ = std::move(path);
    w.max_bytes_ = max_bytes;
    std::filesystem::create_directories(w.path_.parent_path(), ec);
    if (ec) return blob_writer{};
    w.file_ = std::fopen(w.part_path().c_str(), "wb");
    if (w.file_ == nullptr) {
        ec = std::error_code(errno, std::generic_category());
        return blob_writer{};
    }
    return w;
}

blob_writer::blob_writer(blob_writer&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)), path_(std::move(other.path_)), max_bytes_(other.max_bytes_),
      size_(other.size_), hash_(std::move(other.hash_)) {}

blob_writer& blob_writer::operator=(blob_writer&& other) noexcept {
    if (this != &other) {
        close_and_remove();
        file_ = std::exchange(other.file_, nullptr);
        path_ = std::move(other.path_);
        max_bytes_ = other.max_bytes_;
        size_ = other.size_;
        hash_ = std::move(other.hash_);
    }
    return *this;
}

blob_writer::~blob_writer() {
    close_and_remove();
}

std::filesystem::path blob_writer::part_path() const {
    auto p = path_;
    p += ".part";
    return p;
}

void blob_writer::close_and_remove() {
    if (file_ == nullptr) return;
    std::fclose(file_);
    file_ = nullptr;
    std::error_code ignored; // best effort: a leftover .part is harmless and removed with the request
    std::filesystem::remove(part_path(), ignored);
}

blob_write_status blob_writer::write(std::string_view chunk) {
    if (file_ == nullptr) return blob_write_status::closed;
    if (chunk.size() > max_bytes_ - size_) { // size_ <= max_bytes_ always holds, so no underflow
        close_and_remove();
        return blob_write_status::too_large;
    }
    if (!chunk.empty() && std::fwrite(chunk.data(), 1, chunk.size(), file_) != chunk.size()) {
        close_and_remove();
        return blob_write_status::io_error;
    }
    hash_.update(chunk);
    size_ += chunk.size();
    return blob_write_status::ok;
}

finished_blob blob_writer::finish(std::error_code& ec) {
    ec.clear();
    if (file_ == nullptr) {
        ec = std::make_error_code(std::errc::bad_file_descriptor);
        return {};
    }
    // fflush + fclose hand the bytes to the OS; the file is referenced from the
    // database only after this returns, so a crash leaves at most a stray file.
    const bool flushed = std::fflush(file_) == 0;
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!flushed || !closed) {
        ec = std::error_code(errno, std::generic_category());
        std::error_code ignored;
        std::filesystem::remove(part_path(), ignored);
        return {};
    }
    std::filesystem::rename(part_path(), path_, ec);
    if (ec) {
        std::error_code ignored;
        std::filesystem::remove(part_path(), ignored);
        return {};
    }
    return finished_blob{path_, size_, hash_.hex_digest()};
}

void blob_writer::abort() {
    close_and_remove();
}

} // namespace tether::broker

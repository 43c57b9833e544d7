#include "net/upload_spool.hpp"

#include "tether/shared/ids.hpp"
#include "tether/shared/log.hpp"

#include <filesystem>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace tether::broker::net {

namespace {
// What a client is told when its upload could not be written here: the
// server's trouble (disk full most likely), not the client's.
std::string write_error(int err) {
    return std::string("the broker cannot store the upload right now (") + std::strerror(err) +
           "); nothing was accepted: retry later";
}
} // namespace
namespace {
constexpr std::uint64_t max_text_bytes = 1U << 20; // all text fields together
}

uploaded_form::~uploaded_form() {
    if (adopted) return;
    for (const auto& f : files) {
        std::error_code ec;
        std::filesystem::remove(f.path, ec);
    }
}

upload_spool::upload_spool(std::string boundary, std::string dir, std::uint64_t max_bytes)
    : parser_(std::move(boundary),
              multipart_parser::callbacks{
                  [this](const multipart_part_header& h) { return begin_part(h); },
                  [this](std::string_view b) { return part_data(b); },
                  [this]() { return end_part(); },
              }),
      dir_(std::move(dir)), max_bytes_(max_bytes) {}

upload_spool::~upload_spool() { close_file(); }

void upload_spool::close_file() {
    if (file_ != nullptr) {
        std::fclose(file_);
        file_ = nullptr;
    }
}

upload_spool::status upload_spool::feed(std::string_view bytes) {
    if (failure_ != status::ok) return failure_;
    received_ += bytes.size();
    if (received_ > max_bytes_) {
        failure_ = status::too_large;
        error_ = "upload larger than the limit";
        close_file();
        return failure_;
    }
    if (!parser_.feed(bytes)) {
        close_file();
        if (failure_ == status::ok) {
            failure_ = status::malformed;
            error_ = parser_.error();
        }
        return failure_;
    }
    return status::ok;
}

upload_spool::status upload_spool::finish() {
    if (failure_ != status::ok) return failure_;
    if (!parser_.done()) {
        close_file();
        failure_ = status::malformed;
        error_ = "multipart body ended before its closing boundary";
    }
    return failure_;
}

bool upload_spool::begin_part(const multipart_part_header& h) {
    field_name_ = h.name;
    text_.clear();
    in_file_ = h.filename.has_value() || h.name == "audio" || h.name == "video" || h.name == "file";
    if (!in_file_) return true;
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    stored_file f;
    f.blob = static_cast<std::uint32_t>(form_->files.size() + 1);
    f.field = h.name;
    f.name = h.filename.value_or(h.name);
    // Keep only the last path component of a client-supplied name.
    if (auto slash = f.name.find_last_of("/\\"); slash != std::string::npos) f.name = f.name.substr(slash + 1);
    if (f.name.size() > 255) f.name.resize(255);
    f.mime = h.content_type.empty() ? "application/octet-stream" : h.content_type;
    f.path = (std::filesystem::path(dir_) / ("upload-" + random_hex(16))).string();
    file_ = std::fopen(f.path.c_str(), "wb");
    if (file_ == nullptr) {
        failure_ = status::io_error;
        error_ = write_error(errno);
        log::error("upload spool: cannot open {}: {}", f.path, std::strerror(errno));
        return false;
    }
    form_->files.push_back(std::move(f));
    hash_ = std::make_unique<sha256>();
    return true;
}

bool upload_spool::part_data(std::string_view bytes) {
    if (!in_file_) {
        text_bytes_ += bytes.size();
        if (text_bytes_ > max_text_bytes) {
            failure_ = status::too_large;
            error_ = "form text fields too large";
            return false;
        }
        text_.append(bytes);
        return true;
    }
    if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
        failure_ = status::io_error;
        error_ = write_error(errno);
        return false;
    }
    hash_->update(bytes);
    form_->files.back().size += bytes.size();
    return true;
}

bool upload_spool::end_part() {
    if (!in_file_) {
        form_->fields[field_name_] = std::move(text_);
        text_.clear();
        return true;
    }
    bool ok = std::fflush(file_) == 0;
    const int err = errno;
    close_file();
    form_->files.back().sha256 = hash_->hex_digest();
    hash_.reset();
    in_file_ = false;
    if (!ok) {
        failure_ = status::io_error;
        error_ = write_error(err);
    }
    return ok;
}

} // namespace tether::broker::net

#include "store/blob_store.hpp"

#include <string>
#include <utility>

namespace tether::broker {

blob_store::blob_store(std::filesystem::path root) : root_(std::move(root)) {}

// The request id is a parsed uuid and the blob a number, so these paths can
// never climb out of root_, whatever a client or agent sends.
std::filesystem::path blob_store::request_dir(const uuid& request) const {
    return root_ / request.to_string();
}

std::filesystem::path blob_store::adopt_input(const uuid& request, std::uint32_t blob, const std::filesystem::path& spooled,
                                             std::error_code& ec) const {
    auto dest = input_path(request, blob);
    std::filesystem::create_directories(dest.parent_path(), ec);
    if (!ec) std::filesystem::rename(spooled, dest, ec);
    return dest;
}

std::filesystem::path blob_store::input_path(const uuid& request, std::uint32_t blob) const {
    return request_dir(request) / ("in-" + std::to_string(blob));
}

std::filesystem::path blob_store::output_path(const uuid& request, std::uint32_t blob) const {
    return request_dir(request) / ("out-" + std::to_string(blob));
}

blob_writer blob_store::open_input(const uuid& request, std::uint32_t blob, std::uint64_t max_bytes,
                                   std::error_code& ec) const {
    return blob_writer::open(input_path(request, blob), max_bytes, ec);
}

blob_writer blob_store::open_output(const uuid& request, std::uint32_t blob, std::uint64_t max_bytes,
                                    std::error_code& ec) const {
    return blob_writer::open(output_path(request, blob), max_bytes, ec);
}

std::error_code blob_store::remove_request(const uuid& request) const {
    std::error_code ec;
    std::filesystem::remove_all(request_dir(request), ec);
    return ec;
}

} // namespace tether::broker

#include "backends/hf/mapped_file.hpp"

#include "backends/hf/folder_error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tether::agent::hf {

std::shared_ptr<const mapped_file> mapped_file::open(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw folder_error(path.string() + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw folder_error(path.string() + ": not a regular file");
    }
    std::shared_ptr<mapped_file> m(new mapped_file());
    m->path_ = path;
    m->size_ = static_cast<std::size_t>(st.st_size);
    if (m->size_ > 0) {
        void* p = ::mmap(nullptr, m->size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throw folder_error(path.string() + ": cannot map: " + std::strerror(err));
        }
        m->data_ = p;
    }
    ::close(fd);
    return m;
}

mapped_file::~mapped_file() {
    if (data_ != nullptr) ::munmap(data_, size_);
}

} // namespace tether::agent::hf

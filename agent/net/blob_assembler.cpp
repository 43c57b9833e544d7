#include "net/blob_assembler.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <unistd.h>

namespace tether::agent {

spooled_files::~spooled_files() {
    remove_all();
}

spooled_files& spooled_files::operator=(spooled_files&& o) noexcept {
    if (this != &o) {
        remove_all();
        paths_ = std::move(o.paths_);
        o.paths_.clear();
    }
    return *this;
}

void spooled_files::remove_all() {
    for (const auto& p : paths_)
        std::remove(p.c_str());
    paths_.clear();
}

blob_assembler::blob_assembler(const std::vector<protocol::file_ref>& refs, blob_limits limits, std::string& error)
    : limits_(std::move(limits)) {
    error.clear();
    std::set<std::uint32_t> seen;
    std::uint64_t total = 0;
    for (const auto& r : refs) {
        if (!seen.insert(r.blob).second) {
            error = fmt::format("blob {} is named twice", r.blob);
            return;
        }
        if (r.size > limits_.max_file_bytes) {
            error = fmt::format("file '{}' is {} bytes, over the agent's limit of {}", r.name, r.size,
                                limits_.max_file_bytes);
            return;
        }
        total += r.size;
        if (total > limits_.max_request_bytes) {
            error = fmt::format("input files total over the agent's limit of {} bytes", limits_.max_request_bytes);
            return;
        }
        slot s;
        s.ref = r;
        // An empty file may never get a chunk; it is complete as declared.
        s.done = r.size == 0;
        slots_.push_back(std::move(s));
    }
}

blob_assembler::~blob_assembler() {
    close_all(true);
}

void blob_assembler::close_all(bool remove_files) {
    for (auto& s : slots_) {
        if (s.out) {
            std::fclose(s.out);
            s.out = nullptr;
        }
        if (remove_files && !s.path.empty()) {
            std::remove(s.path.c_str());
            s.path.clear();
        }
    }
}

blob_assembler::slot* blob_assembler::find(std::uint32_t blob) {
    for (auto& s : slots_)
        if (s.ref.blob == blob) return &s;
    return nullptr;
}

std::optional<std::string> blob_assembler::add_chunk(std::uint32_t blob, bool last, std::string_view data) {
    slot* s = find(blob);
    if (!s) return fmt::format("blob {} was not named by the request", blob);
    if (s->done) {
        // The one chunk an empty file may still get is an empty last one.
        if (s->ref.size == 0 && s->received == 0 && data.empty()) return std::nullopt;
        return fmt::format("blob {} got data after its last chunk", blob);
    }
    if (data.size() > s->ref.size - s->received) {
        return fmt::format("blob {} is longer than its declared {} bytes", blob, s->ref.size);
    }
    if (s->ref.size > limits_.memory_threshold && !s->out && s->path.empty()) {
        auto dir = limits_.spool_dir.empty() ? std::filesystem::temp_directory_path().string() : limits_.spool_dir;
        std::string tmpl = dir + "/tether-agent-in-XXXXXX";
        const int fd = ::mkstemp(tmpl.data());
        if (fd < 0) return fmt::format("cannot create a spool file in {}", dir);
        s->out = ::fdopen(fd, "wb");
        s->path = tmpl;
        if (!s->out) {
            ::close(fd);
            return fmt::format("cannot open spool file {}", tmpl);
        }
    }
    if (s->out) {
        if (!data.empty() && std::fwrite(data.data(), 1, data.size(), s->out) != data.size()) {
            return fmt::format("cannot write spool file {}", s->path);
        }
    } else {
        s->bytes.append(data);
    }
    s->received += data.size();
    if (last) {
        if (s->received != s->ref.size) {
            return fmt::format("blob {} ended at {} bytes, {} were declared", blob, s->received, s->ref.size);
        }
        if (s->out) {
            const bool ok = std::fclose(s->out) == 0;
            s->out = nullptr;
            if (!ok) return fmt::format("cannot write spool file {}", s->path);
        }
        s->done = true;
    }
    return std::nullopt;
}

bool blob_assembler::complete() const {
    for (const auto& s : slots_)
        if (!s.done) return false;
    return true;
}

std::vector<input_file> blob_assembler::take_files(spooled_files& spool) {
    std::vector<input_file> files;
    for (auto& s : slots_) {
        input_file f;
        f.field = s.ref.field;
        f.name = s.ref.name;
        f.mime = s.ref.mime;
        f.size = s.ref.size;
        f.bytes = std::move(s.bytes);
        if (!s.path.empty()) {
            f.path = s.path;
            spool.add(std::move(s.path));
            s.path.clear();
        }
        files.push_back(std::move(f));
    }
    return files;
}

} // namespace tether::agent

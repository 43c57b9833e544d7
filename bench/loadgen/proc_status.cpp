#include "proc_status.hpp"

#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace tether::bench {

std::optional<memory_figures> read_memory(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    if (!in) return std::nullopt;
    memory_figures m;
    bool seen_rss = false;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string key;
        std::uint64_t kib = 0;
        words >> key >> kib;
        if (key == "VmRSS:") {
            m.rss_kib = kib;
            seen_rss = true;
        } else if (key == "VmHWM:") {
            m.hwm_kib = kib;
        }
    }
    if (!seen_rss) return std::nullopt;
    return m;
}

std::optional<std::size_t> count_open_files(pid_t pid) {
    std::error_code ec;
    std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec);
    if (ec) return std::nullopt;
    std::size_t n = 0;
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
        if (ec) return std::nullopt;
        ++n;
    }
    return n;
}

std::uint64_t raise_own_open_file_limit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
    if (lim.rlim_cur < lim.rlim_max) {
        rlimit raised = lim;
        raised.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
    return static_cast<std::uint64_t>(lim.rlim_cur);
}

bool reset_peak(pid_t pid) {
    std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
    if (!out) return false;
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

} // namespace tether::bench

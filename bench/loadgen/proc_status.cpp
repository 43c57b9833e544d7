#include "proc_status.hpp"

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

bool reset_peak(pid_t pid) {
    std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
    if (!out) return false;
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

} // namespace tether::bench

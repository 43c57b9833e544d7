#pragma once
// Reads another process's memory figures from /proc/PID/status (VmRSS,
// VmHWM) and resets its peak (clear_refs). Linux only; used to measure the
// broker from outside. Never touches the process otherwise.

#include <cstdint>
#include <optional>
#include <sys/types.h>

namespace tether::bench {

struct memory_figures {
    std::uint64_t rss_kib = 0; // VmRSS: resident now
    std::uint64_t hwm_kib = 0; // VmHWM: peak resident since start or the last reset
};

// nullopt when the process is gone or /proc is unreadable.
std::optional<memory_figures> read_memory(pid_t pid);

// Writes "5" to /proc/PID/clear_refs so VmHWM restarts from the current RSS
// (needs the same user or root). False when that is refused.
bool reset_peak(pid_t pid);

} // namespace tether::bench

#pragma once
// Reads another process's memory figures from /proc/PID/status (VmRSS,
// VmHWM), counts its open files and resets its peak (clear_refs). Linux only;
// used to measure the broker from outside. Never touches the process otherwise.

#include <cstddef>
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

// Entries of /proc/PID/fd (sockets, files); nullopt when unreadable.
std::optional<std::size_t> count_open_files(pid_t pid);

// Raises this process's soft open-file limit to its hard limit (every idle
// connection of a scale run is a descriptor); returns the soft limit now.
std::uint64_t raise_own_open_file_limit();

// Writes "5" to /proc/PID/clear_refs so VmHWM restarts from the current RSS
// (needs the same user or root). False when that is refused.
bool reset_peak(pid_t pid);

} // namespace tether::bench

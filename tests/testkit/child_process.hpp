#pragma once
// One child process started with fork/exec: argv, extra environment, stdout
// and stderr redirected to files. Waits are bounded; the destructor kills a
// child still running, and the child dies with the test process (PDEATHSIG).

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace tether::testkit {

struct exit_status {
    bool exited = false;  // normal exit (code is valid)
    int code = -1;        // exit code when exited
    int signal = 0;       // terminating signal otherwise
    std::string describe() const;
};

class child_process {
public:
    child_process() = default;
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    // Starts `argv` (argv[0] is the executable path). `env` entries
    // ("NAME=value") are added to (and override) the current environment.
    // Throws on fork failure only: that is a broken test machine, not a result.
    void start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               const std::string& stdout_path, const std::string& stderr_path);

    bool running();
    pid_t pid() const { return pid_; }
    void signal(int sig);
    // Waits up to `timeout` for the child to end; nullopt if it is still running.
    std::optional<exit_status> wait_for(std::chrono::milliseconds timeout);
    // SIGKILL and reap.
    exit_status kill_now();
    std::optional<exit_status> status() const { return status_; }

private:
    bool poll();

    pid_t pid_ = -1;
    std::optional<exit_status> status_;
};

// Runs `argv` to completion (bounded by `timeout`, then SIGKILL). Returns the
// status and what it printed on stdout and stderr.
struct run_result {
    exit_status status;
    std::string out;
    std::string err;
};
run_result run_to_completion(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                             const std::string& scratch_dir, std::chrono::milliseconds timeout);

std::string read_file(const std::string& path);

} // namespace tether::testkit

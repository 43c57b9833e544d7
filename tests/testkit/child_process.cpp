// fork/exec of the programs under test; see child_process.hpp.
#include "testkit/child_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace tether::testkit {

std::string exit_status::describe() const {
    if (exited) {
        return "exit code " + std::to_string(code);
    }
    if (signal != 0) {
        return std::string("killed by signal ") + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
    }
    return "not ended";
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

namespace {

std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
    std::map<std::string, std::string> vars;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string kv(*e);
        auto eq = kv.find('=');
        vars[kv.substr(0, eq)] = kv;
    }
    for (const auto& kv : extra) {
        vars[kv.substr(0, kv.find('='))] = kv;
    }
    std::vector<std::string> out;
    out.reserve(vars.size());
    for (auto& [k, v] : vars) {
        out.push_back(v);
    }
    return out;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
    std::vector<char*> out;
    out.reserve(v.size() + 1);
    for (auto& s : v) {
        out.push_back(s.data());
    }
    out.push_back(nullptr);
    return out;
}

exit_status decode(int wstatus) {
    exit_status s;
    if (WIFEXITED(wstatus)) {
        s.exited = true;
        s.code = WEXITSTATUS(wstatus);
    } else if (WIFSIGNALED(wstatus)) {
        s.signal = WTERMSIG(wstatus);
    }
    return s;
}

} // namespace

child_process::~child_process() {
    if (pid_ > 0 && !status_) {
        kill_now();
    }
}

void child_process::start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::string& stdout_path, const std::string& stderr_path) {
    if (pid_ > 0 && !status_) {
        throw std::logic_error("child_process::start while a child is running");
    }
    // Everything the child needs is prepared before fork: after fork only
    // async-signal-safe calls are allowed (the test process has threads).
    std::vector<std::string> args = argv;
    std::vector<std::string> envs = merged_environment(env);
    auto c_args = c_strings(args);
    auto c_env = c_strings(envs);
    const pid_t parent = ::getpid();

    pid_t pid = ::fork();
    if (pid < 0) {
        throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
    }
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) {
            ::_exit(127);
        }
        int in = ::open("/dev/null", O_RDONLY);
        int out = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (in < 0 || out < 0 || err < 0) {
            ::_exit(126);
        }
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        // Put the child in its own process group so a terminal's Ctrl-C on the
        // test run does not race the test's own shutdown of it.
        ::setpgid(0, 0);
        ::execve(c_args[0], c_args.data(), c_env.data());
        ::_exit(127);
    }
    pid_ = pid;
    status_.reset();
}

bool child_process::poll() {
    if (pid_ <= 0 || status_) {
        return false;
    }
    int wstatus = 0;
    pid_t r = ::waitpid(pid_, &wstatus, WNOHANG);
    if (r == pid_) {
        status_ = decode(wstatus);
        return false;
    }
    return true;
}

bool child_process::running() { return poll(); }

void child_process::signal(int sig) {
    if (poll()) {
        ::kill(pid_, sig);
    }
}

std::optional<exit_status> child_process::wait_for(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (poll()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return status_;
}

exit_status child_process::kill_now() {
    if (poll()) {
        ::kill(pid_, SIGKILL);
        int wstatus = 0;
        if (::waitpid(pid_, &wstatus, 0) == pid_) {
            status_ = decode(wstatus);
        }
    }
    return status_.value_or(exit_status{});
}

run_result run_to_completion(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                             const std::string& scratch_dir, std::chrono::milliseconds timeout) {
    static int counter = 0;
    const std::string base = scratch_dir + "/run-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    const std::string out_path = base + ".out";
    const std::string err_path = base + ".err";
    run_result r;
    {
        child_process child;
        child.start(argv, env, out_path, err_path);
        auto st = child.wait_for(timeout);
        r.status = st ? *st : child.kill_now();
    }
    r.out = read_file(out_path);
    r.err = read_file(err_path);
    ::unlink(out_path.c_str());
    ::unlink(err_path.c_str());
    return r;
}

} // namespace tether::testkit

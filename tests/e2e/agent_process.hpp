#pragma once
// The real tether-agent executable under test: started against a broker with
// the flags a test gives, its log (stderr) kept in a temp dir so a test can
// wait, bounded, for a line to appear, and its exit status read. The child
// dies with the test (child_process kills it in its destructor).

#include "testkit/child_process.hpp"
#include "testkit/temp_dir.hpp"
#include "testkit/wait.hpp"

#include <csignal>
#include <string>
#include <vector>

namespace tether::e2e {

using namespace std::chrono_literals;

class agent_process {
  public:
    agent_process() : dir_("tether-e2e-agent-") {}

    // tether-agent --broker URL --space SPACE=TOKEN ... EXTRA (log level debug).
    void start(const std::string& broker_url, const std::vector<std::string>& spaces,
               const std::vector<std::string>& extra = {}, const std::vector<std::string>& env = {}) {
        std::vector<std::string> argv{TETHER_AGENT_BIN, "--broker", broker_url, "--log-level",
                                      "debug",          "--name",   "e2e-agent"};
        for (const auto& s : spaces) {
            argv.push_back("--space");
            argv.push_back(s);
        }
        argv.insert(argv.end(), extra.begin(), extra.end());
        ++starts_;
        log_path_ = dir_.path() + "/agent-" + std::to_string(starts_) + ".log";
        child_.start(argv, env, dir_.path() + "/agent-" + std::to_string(starts_) + ".out", log_path_);
    }

    // Everything this run of the agent has logged so far.
    std::string log() const { return log_path_.empty() ? std::string{} : testkit::read_file(log_path_); }
    bool logged(const std::string& text) const { return log().find(text) != std::string::npos; }
    // Waits until `text` appears in the log (bounded).
    bool wait_logged(const std::string& text, std::chrono::milliseconds timeout = 10s) const {
        return testkit::eventually([&] { return logged(text); }, timeout, 20ms);
    }
    // How many times `text` appears in the log.
    std::size_t count(const std::string& text) const {
        const auto l = log();
        std::size_t n = 0;
        for (auto pos = l.find(text); pos != std::string::npos; pos = l.find(text, pos + text.size()))
            ++n;
        return n;
    }
    // 30 s: the first start of a freshly linked tether-agent (libtorch is
    // large) on a loaded 2-core machine has taken over 10 s.
    bool wait_registered(std::chrono::milliseconds timeout = 30s) const {
        return wait_logged("registered with", timeout);
    }

    bool running() { return child_.running(); }
    void signal(int sig) { child_.signal(sig); }
    std::optional<testkit::exit_status> wait_exit(std::chrono::milliseconds timeout) {
        return child_.wait_for(timeout);
    }
    testkit::exit_status kill9() { return child_.kill_now(); }

  private:
    testkit::temp_dir dir_;
    testkit::child_process child_;
    std::string log_path_;
    int starts_ = 0;
};

} // namespace tether::e2e

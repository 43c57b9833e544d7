// tether-agent: parse the configuration, build the backend, run until stopped.
// Exit statuses: 0 clean stop, 1 fatal error, 2 bad command line or config,
// 3 the broker refused a space (bad token, unknown space, protocol).

#include "app/agent_options.hpp"
#include "app/agent_setup.hpp"
#include "app/tokenize_command.hpp"
#include "net/agent_runner.hpp"

#include "tether/shared/log.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <exception>
#include <stdexcept>

namespace {

// libtorch's OpenMP threads spin between operations by default, and on a
// small box they then fight OpenBLAS's own threads for the cores: a Whisper
// decode step took 52 ms spinning instead of 12 ms (bench/README.md).
// libgomp reads the policy once, when it loads, before main: so the agent
// starts itself again with it set, unless the operator chose one.
void passive_openmp(char** argv) {
    if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("TETHER_NO_REEXEC") != nullptr) return;
    ::setenv("OMP_WAIT_POLICY", "passive", 1);
    ::execv("/proc/self/exe", argv);
    // exec failed (no /proc): run on, with the spinning default.
}

} // namespace

int main(int argc, char** argv) {
    using namespace tether::agent;
    passive_openmp(argv);
    if (argc >= 2 && std::string_view(argv[1]) == "tokenize")
        return tokenize_command(argc - 1, argv + 1, std::cin, std::cout, std::cerr);
    auto outcome = parse_agent_options(argc, argv, current_environment());
    if (!outcome.options) {
        std::fputs(outcome.message.c_str(), outcome.exit_code == 0 ? stdout : stderr);
        return outcome.exit_code;
    }
    const agent_options& opts = *outcome.options;
    try {
        tether::log::level lvl{};
        tether::log::parse_level(opts.log_level, lvl);
        tether::log::set_level(lvl);
        auto be = make_backend(opts);
        agent_runner runner(make_runner_settings(opts, *be), *be, worker_count(opts));
        tether::log::info("tether-agent {} starting: backend {}, {} space(s), broker {}", "0.1.0", be->name(),
                          opts.spaces.size(), opts.broker.to_string());
        return runner.run();
    } catch (const usage_error& e) {
        std::fprintf(stderr, "tether-agent: %s\n", e.what());
        return exit_usage;
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "tether-agent: %s\n", e.what());
        return exit_usage;
    } catch (const std::exception& e) {
        tether::log::error("fatal: {}", e.what());
        return exit_fatal;
    }
}

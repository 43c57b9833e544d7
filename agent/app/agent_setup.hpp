#pragma once
// Turns parsed options into the running parts: the backend chosen by
// --backend and the settings of the runner and its connections (the register
// frame included). Start-up only; may throw usage_error.

#include "app/agent_options.hpp"
#include "backends/backend.hpp"
#include "net/agent_runner.hpp"

#include <memory>
#include <stdexcept>

namespace tether::agent {

// A configuration that parsed but cannot run (e.g. torch not built in): exit 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::unique_ptr<backend> make_backend(const agent_options& opts);
runner_settings make_runner_settings(const agent_options& opts, const backend& be);
std::size_t worker_count(const agent_options& opts);

} // namespace tether::agent

#pragma once
// Wires tether-broker together: opens the store, loads spaces and recovers
// requests into the core, starts the listener and N io threads, and on
// SIGTERM/SIGINT stops accepting, closes agents with 1001, lets store writes
// land and returns. Construction failures (bad address, TLS files, store)
// throw: that is start-up.

#include "app/config.hpp"

namespace tether::broker::app {

// Runs until a signal; returns the process exit code.
int run_server(const broker_config& config);

} // namespace tether::broker::app

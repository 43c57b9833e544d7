#pragma once
// The reference upstream behind nginx: the least a server can do for the
// same request pattern. POST anything -> 202 with a JSON request id
// (keep-alive); GET .../events -> 200 text/event-stream with one `completed`
// event, then close. It keeps no state. Runs until SIGINT/SIGTERM or its
// lifetime ends (bounded), on one thread.

#include "options.hpp"

namespace tether::bench {

// Returns the process exit code.
int run_upstream(const loadgen_options& o);

} // namespace tether::bench

#pragma once
// Idle-connection cost: N agent WebSockets, each registered to a space of its
// own (spaces made through the admin API), then N SSE watchers on one queued
// request; the broker's VmRSS before and after each step gives the memory
// per connection. Everything it opens it closes before returning.

#include "options.hpp"

namespace tether::bench {

// Returns the process exit code (0 when every connection was made).
int run_scale(const loadgen_options& o);

} // namespace tether::bench

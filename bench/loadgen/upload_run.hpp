#pragma once
// Upload throughput: streams `requests` multipart uploads of `upload_bytes`
// each (one at a time, written in `chunk_bytes` pieces, never held whole) to a
// space whose agent is the mock, waits for each to complete over SSE, and
// reports MB/s and the broker's peak RSS (VmHWM, reset before the run).

#include "options.hpp"

namespace tether::bench {

int run_uploads(const loadgen_options& o);

} // namespace tether::bench

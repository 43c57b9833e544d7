#pragma once
// The request pattern every latency and throughput figure is made of: POST a
// prompt, then (flow "sse") GET its event stream until the terminal event.
// `concurrency` workers on one io_context, bounded by count and duration.
// Works against the broker and against the nginx-fronted reference upstream.

#include "latency_stats.hpp"
#include "memory_trend.hpp"
#include "options.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tether::bench {

struct flow_report {
    std::string label;
    std::string target;
    std::uint64_t completed = 0;  // counted (after warm-up) and ended in `completed`
    std::uint64_t errors = 0;     // anything else: non-202, transport error, other terminal event
    std::map<std::string, std::uint64_t> error_kinds;
    std::map<std::string, std::string> error_samples; // the first detail seen of each kind
    double seconds = 0;           // measured window (after warm-up)
    double per_second = 0;        // completed / seconds
    latency_summary latency;      // submit -> completed (sse) or submit -> 202 (submit)
    // flow "submit": when /metrics showed every accepted request completed
    double drain_seconds = 0;     // from the first counted submit to that moment
    double completed_per_second = 0;
    bool drained = false;
    // --rate: starts more than 10 ms behind their scheduled time (all workers were busy)
    std::uint64_t late_starts = 0;
    // --sample-every with --broker-pid: the broker's memory over the run
    std::vector<memory_sample> memory;
};

flow_report run_flow(const loadgen_options& o, const std::string& target, const std::string& label);

// One human line (and the error kinds) plus a machine line starting "RESULT ";
// with memory samples, a second RESULT line labelled LABEL-memory.
void print_flow(const flow_report& r, const loadgen_options& o);

// Sum of tether_requests_total{outcome="completed"} over `spaces` in a
// Prometheus text body.
std::uint64_t completed_in_metrics(const std::string& body, const std::vector<std::string>& spaces);

} // namespace tether::bench

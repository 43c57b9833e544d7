#pragma once
// Retention: removes finished requests, with their results and files, once
// they are older than the retention period and, oldest first, while the data
// directory is above its size budget. Never a request that has not finished.
// Works in small batches (one short transaction each, a pause between) so
// the writer, and the latency of everything else, never stalls on it. Used
// by the broker's background pass and by `tether-broker prune`.

#include "store/blob_store.hpp"
#include "store/store.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace tether::broker {

struct retention_policy {
    std::optional<std::chrono::milliseconds> retain = std::chrono::hours(24 * 30); // nullopt: keep forever
    std::optional<std::uint64_t> max_data_bytes;                                   // nullopt: no budget
    std::size_t batch = 50;                                                        // requests per transaction
    std::chrono::milliseconds pause{10};                                           // between batches, at least
    // ... and at least this many times as long as the batch took: the pass
    // holds the writer for at most a third of the time, however slow the disk.
    unsigned pause_factor = 2;
};

struct prune_report {
    std::size_t removed_by_age = 0;
    std::size_t removed_by_size = 0;
    std::uint64_t file_bytes = 0;         // recorded sizes of the files removed
    std::size_t tombstones_forgotten = 0; // removed more than a retention period ago: now 404
    data_usage usage_after;
    bool over_budget = false; // still above max_data_bytes, with no finished request left
    // Dry run: what would go (the first few, for the listing) and how many.
    std::vector<removable_request> sample;
    std::size_t removed() const { return removed_by_age + removed_by_size; }
};

// Counters for /metrics, updated by every pass (any thread reads them).
struct retention_stats {
    std::atomic<std::uint64_t> passes{0};
    std::atomic<std::uint64_t> removed_age{0};
    std::atomic<std::uint64_t> removed_size{0};
    std::atomic<std::uint64_t> removed_file_bytes{0};
    std::atomic<std::uint64_t> data_bytes{0};
    std::atomic<std::int64_t> last_pass_unix_ms{0};
};

class retention {
  public:
    retention(store& st, const blob_store& blobs, const clock_source& clock, retention_policy policy);

    // One pass. With `dry_run` nothing changes: the report says what would
    // go (the size budget is then estimated from the files alone). `stop`,
    // when set, ends the pass between batches.
    prune_report run(bool dry_run, const std::atomic<bool>* stop = nullptr, retention_stats* stats = nullptr);

  private:
    std::size_t remove_batch(const std::vector<removable_request>& batch, std::string_view reason,
                             prune_report& report);
    void pause(const std::atomic<bool>* stop, std::chrono::steady_clock::duration batch_took) const;

    store& store_;
    const blob_store& blobs_;
    const clock_source& clock_;
    retention_policy policy_;
};

} // namespace tether::broker

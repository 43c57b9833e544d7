#include "store/retention.hpp"

#include "tether/shared/log.hpp"

#include <algorithm>
#include <thread>

namespace tether::broker {
namespace {

constexpr std::size_t sample_size = 20;

bool stopping(const std::atomic<bool>* stop) {
    return stop != nullptr && stop->load();
}

} // namespace

retention::retention(store& st, const blob_store& blobs, const clock_source& clock, retention_policy policy)
    : store_(st), blobs_(blobs), clock_(clock), policy_(policy) {
    if (policy_.batch == 0) policy_.batch = 1;
}

void retention::pause(const std::atomic<bool>* stop, std::chrono::steady_clock::duration batch_took) const {
    const auto wait = std::max<std::chrono::steady_clock::duration>(policy_.pause, batch_took * policy_.pause_factor);
    if (wait.count() > 0 && !stopping(stop)) std::this_thread::sleep_for(wait);
}

// Files first, then the rows: a crash in between leaves rows whose files are
// gone (a download answers "file is gone"; the next pass removes the rows),
// never files that no row names and nothing would ever delete.
std::size_t retention::remove_batch(const std::vector<removable_request>& batch, std::string_view reason,
                                    prune_report& report) {
    for (const auto& r : batch) {
        if (auto ec = blobs_.remove_request(r.id))
            log::warn("retention: cannot remove the files of request {}: {}", r.id.to_string(), ec.message());
    }
    const std::size_t removed = store_.remove_requests(batch, reason, clock_.now());
    for (const auto& r : batch)
        report.file_bytes += r.file_bytes;
    return removed;
}

prune_report retention::run(bool dry_run, const std::atomic<bool>* stop, retention_stats* stats) {
    prune_report report;
    const time_point now = clock_.now();

    // 1. By age.
    if (policy_.retain) {
        const time_point cutoff = now - *policy_.retain;
        std::size_t offset = 0; // dry run pages through; a real pass always takes the oldest left
        while (!stopping(stop)) {
            auto batch = store_.finished_requests(cutoff, policy_.batch, dry_run ? offset : 0);
            if (batch.empty()) break;
            if (dry_run) {
                for (const auto& r : batch) {
                    if (report.sample.size() < sample_size) report.sample.push_back(r);
                    report.file_bytes += r.file_bytes;
                }
                report.removed_by_age += batch.size();
                offset += batch.size();
                continue;
            }
            const auto started = std::chrono::steady_clock::now();
            const std::size_t n = remove_batch(batch, "retention", report);
            report.removed_by_age += n;
            if (stats) stats->removed_age += n;
            if (n == 0) break; // nothing could be removed (store failing): try again next pass
            pause(stop, std::chrono::steady_clock::now() - started);
        }
        if (!dry_run && !stopping(stop)) report.tombstones_forgotten = store_.forget_removed(now - *policy_.retain);
    }

    // 2. By size, oldest finished first.
    report.usage_after = store_.usage();
    if (policy_.max_data_bytes) {
        std::uint64_t estimate = report.usage_after.total();
        if (dry_run) estimate = estimate > report.file_bytes ? estimate - report.file_bytes : 0;
        std::size_t offset = dry_run ? report.removed_by_age : 0;
        while (!stopping(stop) && estimate > *policy_.max_data_bytes) {
            auto batch = store_.finished_requests(std::nullopt, policy_.batch, dry_run ? offset : 0);
            if (batch.empty()) {
                report.over_budget = true;
                break;
            }
            if (dry_run) {
                // Only as many as the files bring under the budget.
                for (const auto& r : batch) {
                    if (estimate <= *policy_.max_data_bytes) break;
                    if (report.sample.size() < sample_size) report.sample.push_back(r);
                    report.file_bytes += r.file_bytes;
                    estimate = estimate > r.file_bytes ? estimate - r.file_bytes : 0;
                    ++report.removed_by_size;
                    ++offset;
                }
                if (estimate > *policy_.max_data_bytes && batch.size() < policy_.batch) report.over_budget = true;
                if (batch.size() < policy_.batch) break;
                continue;
            }
            // Take only as many of the batch as the recorded file sizes say
            // are needed (at least one: the database rows free space too).
            std::uint64_t over = estimate - *policy_.max_data_bytes;
            std::size_t take = 0;
            for (const auto& r : batch) {
                ++take;
                if (r.file_bytes >= over) break;
                over -= r.file_bytes;
            }
            batch.resize(take);
            const auto started = std::chrono::steady_clock::now();
            const std::size_t n = remove_batch(batch, "size", report);
            report.removed_by_size += n;
            if (stats) stats->removed_size += n;
            if (n == 0) break;
            report.usage_after = store_.usage();
            estimate = report.usage_after.total();
            pause(stop, std::chrono::steady_clock::now() - started);
        }
        if (dry_run)
            report.usage_after.file_bytes =
                estimate > report.usage_after.database_bytes ? estimate - report.usage_after.database_bytes : 0;
    }

    if (stats) {
        ++stats->passes;
        stats->removed_file_bytes += dry_run ? 0 : report.file_bytes;
        stats->data_bytes = report.usage_after.total();
        stats->last_pass_unix_ms = to_unix_ms(clock_.now());
    }
    if (!dry_run && report.removed() > 0)
        log::info(
            "retention: removed {} finished request(s) ({} by age, {} by size), {} bytes of files; data now {} bytes",
            report.removed(), report.removed_by_age, report.removed_by_size, report.file_bytes,
            report.usage_after.total());
    if (report.over_budget)
        log::warn("retention: the data directory ({} bytes) is above --max-data-size ({} bytes) and no finished "
                  "request is left to remove: unfinished requests and their uploads fill it",
                  report.usage_after.total(), *policy_.max_data_bytes);
    return report;
}

} // namespace tether::broker

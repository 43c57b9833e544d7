#pragma once
// What a long-running broker needs from its store besides requests and
// accounts: finding and removing finished requests (retention) and the
// tombstones they leave (410 Gone), the size of the data, the start counter
// that keeps SSE event ids unique across restarts, and the version counter
// that tells a running broker that accounts or spaces changed (also when the
// admin CLI changed them from another process). An interface so a clustered
// store can implement it too.

#include "store/store_types.hpp"
#include "tether/shared/ids.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::broker {

// A finished request that retention may remove.
struct removable_request {
    uuid id;
    std::string username;
    time_point finished{};
    std::uint64_t file_bytes = 0; // its input and output files, as recorded
};

// What is left of a removed request: enough to answer 410 to its owner.
struct removed_request {
    uuid id;
    std::string username;
    std::optional<time_point> finished;
    time_point removed{};
    std::string reason; // "retention" (age), "size" (--max-data-size), "prune" (CLI)
};

struct data_usage {
    std::uint64_t database_bytes = 0; // pages in use (SQLite reuses freed pages; the file does not shrink)
    std::uint64_t file_bytes = 0;     // request files recorded in the database
    std::uint64_t total() const { return database_bytes + file_bytes; }
};

class operations_store {
  public:
    virtual ~operations_store() = default;

    // Finished requests, oldest finished first: those finished before
    // `cutoff`, or (nullopt) any. Never a request in a non-terminal state.
    virtual std::vector<removable_request> finished_requests(std::optional<time_point> cutoff, std::size_t limit,
                                                             std::size_t offset = 0) = 0;
    // Deletes the requests' rows and leaves a tombstone for each, in one
    // transaction; requests no longer finished (or gone) are skipped. Their
    // files on disk are the caller's (blob_store). Returns how many went.
    virtual std::size_t remove_requests(const std::vector<removable_request>& requests, std::string_view reason,
                                        time_point now) = 0;
    virtual std::optional<removed_request> find_removed(const uuid& id) = 0;
    // Tombstones removed before `before` go (then the request answers 404).
    virtual std::size_t forget_removed(time_point before) = 0;
    // Tombstones made after `after_seq` (0: all), with the newest seq, so a
    // watcher can tell the core to forget its copies.
    virtual std::vector<uuid> removed_after(std::int64_t after_seq, std::int64_t& newest_seq) = 0;
    virtual data_usage usage() = 0;

    // Counts broker starts (`serve` calls it once); SSE event ids of a start
    // are above those of every earlier start.
    virtual std::uint64_t next_boot() = 0;
    // Bumped by every change to users, sessions, API keys or spaces, by this
    // process or another one on the same data. Cheap: polled every ~250 ms.
    virtual std::uint64_t config_version() = 0;
    // Drops remembered credentials, so the next lookups read the database.
    virtual void forget_credentials() = 0;
    // `listener` runs after each change this process makes to accounts or
    // spaces, on the thread that made it; it must not block. One listener.
    virtual void set_change_listener(std::function<void()> listener) = 0;

    // False from a failed write until the next successful one (readiness and
    // /metrics); snapshots waiting to be written again.
    virtual bool healthy() const = 0;
    virtual std::size_t writes_waiting_retry() const = 0;
};

} // namespace tether::broker

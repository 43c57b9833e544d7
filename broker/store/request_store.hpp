#pragma once
// Durable requests: snapshots written through one group-commit writer, read
// back for the API and for recovery at start. An interface so a clustered
// store can replace the SQLite one (DESIGN "Later: more than one broker").

#include "core/request.hpp"
#include "store/store_types.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace tether::broker {

class request_store {
  public:
    // Called once per write with true after the snapshot's transaction has
    // COMMITted (durable), or false if it could not be written. It runs on the
    // store's writer thread: post back to your own executor/strand, do not block,
    // and never call a blocking store function (flush, account/space calls) from it.
    using durable_callback = std::function<void(bool ok)>;

    virtual ~request_store() = default;

    // Queues an upsert of the whole snapshot (request, its input and output
    // files, its outcome). Returns at once; writes of the same id are applied in
    // submission order, so the last snapshot wins. `on_durable` may be empty.
    // After the store is closed the callback gets false at once.
    // A snapshot that cannot be written (disk full, I/O error) is not lost:
    // its callback gets false, and the store writes the newest snapshot of
    // that request again, every store_options::retry_after, until it lands.
    virtual void write(request_record snapshot, durable_callback on_durable) = 0;
    // The same for the first snapshot of a new request, except that a failure
    // is final: nothing of it is retried (nor later snapshots of it queued
    // behind it), since the caller then withdraws the request ("nothing
    // half-accepted"): see broker_core::withdraw.
    virtual void write_first(request_record snapshot, durable_callback on_durable) = 0;

    // Blocks until everything queued before the call is committed or failed
    // (for SIGTERM and tests). Must not be called from a durable_callback.
    virtual void flush() = 0;

    // Reads see committed data only: a snapshot whose on_durable has not run yet
    // may not be visible. Times come back at millisecond precision.
    virtual std::optional<request_record> get_request(const uuid& id) = 0;
    virtual request_page list_requests(const request_query& query) = 0;
    // Every request not in a terminal state, oldest first (recovery at start).
    // Unlike the other reads it throws std::runtime_error on a read error:
    // starting without the waiting requests would drop them silently.
    virtual std::vector<request_record> load_non_terminal() = 0;

    // Deletes a request and its rows (not its blob files; see blob_store). Synchronous.
    virtual store_status delete_request(const uuid& id) = 0;

    // Statistics for /metrics and tests: transactions committed by the writer
    // and snapshots written. Under a burst, batches < writes (group commit).
    virtual std::uint64_t commit_batches() const = 0;
    virtual std::uint64_t committed_writes() const = 0;
    // Snapshots never written because a newer one of the same request
    // replaced them while they waited for the writer (their callbacks ran
    // with the newer one's commit).
    virtual std::uint64_t coalesced_writes() const { return 0; }
};

} // namespace tether::broker

#include "store/sqlite_store.hpp"

#include "store/request_rows.hpp"
#include "store/schema.hpp"

#include <stdexcept>
#include <utility>

namespace tether::broker {
namespace {

SQLite::Database open_migrated(const std::filesystem::path& db_path) {
    auto db = open_connection(db_path, true);
    schema::migrate(db);
    return db;
}

} // namespace

SQLite::Database open_connection(const std::filesystem::path& db_path, bool create) {
    const int flags = SQLite::OPEN_READWRITE | (create ? SQLite::OPEN_CREATE : 0);
    SQLite::Database db(db_path, flags, 5000);
    // WAL: readers never block the writer and a commit appends to one file.
    db.exec("PRAGMA journal_mode = WAL");
    // FULL, deliberately: in WAL mode NORMAL already survives a SIGKILL of the
    // process after COMMIT (the WAL is in the OS page cache), but not a power
    // loss or kernel crash. FULL fsyncs the WAL on every COMMIT, so a request
    // that got its 202 survives those too; group commit keeps that to one
    // fsync per batch, not one per request.
    db.exec("PRAGMA synchronous = FULL");
    db.exec("PRAGMA foreign_keys = ON");
    return db;
}

sqlite_store::sqlite_store(const std::filesystem::path& db_path, const clock_source& clock,
                           const store_options& options)
    : clock_(clock), options_(options), writer_(open_migrated(db_path), options.max_batch),
      reader_(open_connection(db_path, false)), maintenance_(open_connection(db_path, false)),
      retry_thread_([this] { retry_loop(); }) {}

sqlite_store::~sqlite_store() {
    {
        std::lock_guard lock(pending_mu_);
        closing_ = true;
        retry_cv_.notify_all();
    }
    retry_thread_.join();
    writer_.close();
    std::lock_guard lock(pending_mu_);
    if (!retry_.empty())
        log::error("store: closing with {} request snapshot(s) never written (the disk kept refusing them); "
                   "those requests are recovered from their last written state at the next start",
                   retry_.size());
}

std::unique_ptr<store> open_store(const std::filesystem::path& data_dir, const clock_source& clock,
                                  const store_options& options) {
    std::error_code ec;
    std::filesystem::create_directories(blobs_path(data_dir), ec);
    if (ec) {
        throw std::runtime_error("cannot create data directory " + blobs_path(data_dir).string() + ": " + ec.message());
    }
    try {
        return std::make_unique<sqlite_store>(database_path(data_dir), clock, options);
    } catch (const SQLite::Exception& e) {
        throw std::runtime_error("cannot open store " + database_path(data_dir).string() + ": " + e.what());
    }
}

std::filesystem::path database_path(const std::filesystem::path& data_dir) {
    return data_dir / "tether.db";
}
std::filesystem::path blobs_path(const std::filesystem::path& data_dir) {
    return data_dir / "blobs";
}

// Snapshots of one request that queue up behind each other are written once:
// a request goes queued -> dispatched -> processing -> streaming -> completed
// within a few hundred microseconds under load, often faster than a commit.
// While a snapshot waits for the writer, a newer one of the same request
// replaces it and adds its callback; every callback still runs once, after
// the commit that holds the newest snapshot, so "the last snapshot wins" and
// "durable means committed" both hold as before.
void sqlite_store::write(request_record snapshot, durable_callback on_durable) {
    queue_write(std::move(snapshot), std::move(on_durable), false);
}

void sqlite_store::write_first(request_record snapshot, durable_callback on_durable) {
    queue_write(std::move(snapshot), std::move(on_durable), true);
}

void sqlite_store::queue_write(request_record snapshot, durable_callback on_durable, bool first) {
    std::shared_ptr<pending_write> p;
    {
        std::lock_guard lock(pending_mu_);
        retry_.erase(snapshot.id); // this snapshot is newer than any waiting to be retried
        if (auto it = pending_.find(snapshot.id); it != pending_.end()) {
            it->second->snapshot = std::move(snapshot);
            it->second->first = it->second->first || first;
            if (on_durable) it->second->callbacks.push_back(std::move(on_durable));
            ++coalesced_;
            return;
        }
        p = std::make_shared<pending_write>();
        p->id = snapshot.id;
        p->snapshot = std::move(snapshot);
        p->first = first;
        if (on_durable) p->callbacks.push_back(std::move(on_durable));
        pending_.emplace(p->id, p);
    }
    writer_.submit(
        [this, p](SQLite::Database& db) {
            {
                // From here on a new snapshot of this request starts a new
                // write. The snapshot stays in `p` until the outcome is known:
                // a failed write is retried from it.
                std::lock_guard lock(pending_mu_);
                release_pending(*p);
                // Queued before its request was withdrawn: must not land.
                p->dropped = !p->first && withdrawn_.contains(p->id);
            }
            if (p->dropped) return;
            if (!upserter_) upserter_ = std::make_unique<request_rows::request_upserter>(db);
            upserter_->upsert(p->snapshot);
        },
        [this, p](bool ok) { written(*p, ok); });
}

void sqlite_store::written(const pending_write& p, bool ok) {
    if (p.dropped) {
        for (const auto& cb : p.callbacks) cb(false);
        return;
    }
    {
        std::lock_guard lock(pending_mu_);
        release_pending(p); // a refused write (store closed) never ran its job
        if (!ok && p.first) remember_withdrawn(p.id);
        const bool was_healthy = healthy_.exchange(ok);
        if (ok && !was_healthy) log::info("store: writes succeed again");
        // Retried unless it was the request's first snapshot (the caller
        // withdraws that request) or a newer snapshot is already queued.
        if (!ok && !p.first && !closing_ && !pending_.contains(p.id)) {
            retry_.insert_or_assign(p.id, p.snapshot);
            retry_cv_.notify_all();
        }
    }
    for (const auto& cb : p.callbacks) cb(ok);
}

void sqlite_store::retry_loop() {
    std::unique_lock lock(pending_mu_);
    for (;;) {
        retry_cv_.wait(lock, [&] { return closing_ || !retry_.empty(); });
        if (closing_) return;
        // Wait a little so that a full disk is not hammered, then try all.
        if (retry_cv_.wait_for(lock, options_.retry_after, [&] { return closing_; })) return;
        auto batch = std::move(retry_);
        retry_.clear();
        lock.unlock();
        log::warn("store: writing {} request snapshot(s) again after a failed write", batch.size());
        for (auto& [id, snapshot] : batch) write(std::move(snapshot), nullptr);
        lock.lock();
    }
}

// A request whose first snapshot failed is withdrawn by the core; snapshots
// of it already queued (it may have been dispatched meanwhile) are dropped.
// Kept for a minute, far longer than anything waits in the writer's queue.
void sqlite_store::remember_withdrawn(const uuid& id) {
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(withdrawn_, [&](const auto& kv) { return now - kv.second > std::chrono::minutes(1); });
    withdrawn_.insert_or_assign(id, now);
}

std::size_t sqlite_store::writes_waiting_retry() const {
    std::lock_guard lock(pending_mu_);
    return retry_.size();
}

void sqlite_store::set_change_listener(std::function<void()> listener) {
    std::lock_guard lock(listener_mu_);
    listener_ = std::move(listener);
}

void sqlite_store::changed() {
    std::function<void()> l;
    {
        std::lock_guard lock(listener_mu_);
        l = listener_;
    }
    if (l) l();
}

void sqlite_store::release_pending(const pending_write& p) {
    if (auto it = pending_.find(p.id); it != pending_.end() && it->second.get() == &p) pending_.erase(it);
}

std::uint64_t sqlite_store::coalesced_writes() const {
    std::lock_guard lock(pending_mu_);
    return coalesced_;
}

void sqlite_store::flush() {
    writer_.flush();
}

std::optional<request_record> sqlite_store::get_request(const uuid& id) {
    return read<std::optional<request_record>>("get_request", std::nullopt,
                                               [&](SQLite::Database& db) { return request_rows::select_one(db, id); });
}

request_page sqlite_store::list_requests(const request_query& query) {
    request_page failed;
    failed.status = store_status::failed;
    return read<request_page>("list_requests", failed,
                              [&](SQLite::Database& db) { return request_rows::select_page(db, query); });
}

std::vector<request_record> sqlite_store::load_non_terminal() {
    // Not read(): starting without the requests that were waiting would drop
    // them silently, so a failure here stops the start-up instead.
    std::lock_guard lock(read_mu_);
    try {
        return request_rows::select_non_terminal(reader_);
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("cannot load unfinished requests: ") + e.what());
    }
}

store_status sqlite_store::delete_request(const uuid& id) {
    return write_sync([&](SQLite::Database& db) {
        request_rows::remove(db, id);
        return db.getChanges() > 0 ? store_status::ok : store_status::not_found;
    });
}

std::uint64_t sqlite_store::commit_batches() const {
    return writer_.batches();
}
std::uint64_t sqlite_store::committed_writes() const {
    return writer_.jobs_committed();
}

} // namespace tether::broker

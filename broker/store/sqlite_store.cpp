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
      reader_(open_connection(db_path, false)) {}

sqlite_store::~sqlite_store() {
    writer_.close();
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
    std::shared_ptr<pending_write> p;
    {
        std::lock_guard lock(pending_mu_);
        if (auto it = pending_.find(snapshot.id); it != pending_.end()) {
            it->second->snapshot = std::move(snapshot);
            if (on_durable) it->second->callbacks.push_back(std::move(on_durable));
            ++coalesced_;
            return;
        }
        p = std::make_shared<pending_write>();
        p->id = snapshot.id;
        p->snapshot = std::move(snapshot);
        if (on_durable) p->callbacks.push_back(std::move(on_durable));
        pending_.emplace(p->id, p);
    }
    writer_.submit(
        [this, p](SQLite::Database& db) {
            request_record latest;
            {
                // From here on a new snapshot of this request starts a new write.
                std::lock_guard lock(pending_mu_);
                release_pending(*p);
                latest = std::move(p->snapshot);
            }
            if (!upserter_) upserter_ = std::make_unique<request_rows::request_upserter>(db);
            upserter_->upsert(latest);
        },
        [this, p](bool ok) {
            {
                std::lock_guard lock(pending_mu_);
                release_pending(*p); // a refused write (store closed) never ran its job
            }
            for (auto& cb : p->callbacks) cb(ok);
        });
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

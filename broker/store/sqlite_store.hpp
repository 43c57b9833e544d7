#pragma once
// The single-node store: SQLite in WAL mode. Writes go through the
// group_commit_writer (one thread, one connection); reads use a second
// connection guarded by a mutex, because a SQLite::Database must not be used by
// two threads at once. Implementation detail of open_store(): code against store.

#include "store/credential_cache.hpp"
#include "store/group_commit_writer.hpp"
#include "store/request_rows.hpp"
#include "store/store.hpp"
#include "tether/shared/log.hpp"

#include <SQLiteCpp/Database.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace tether::broker {

class sqlite_store final : public store {
  public:
    // Throws at start-up (cannot open, cannot migrate).
    sqlite_store(const std::filesystem::path& db_path, const clock_source& clock, const store_options& options);
    ~sqlite_store() override;

    // request_store
    void write(request_record snapshot, durable_callback on_durable) override;
    void write_first(request_record snapshot, durable_callback on_durable) override;
    void flush() override;
    std::optional<request_record> get_request(const uuid& id) override;
    request_page list_requests(const request_query& query) override;
    std::vector<request_record> load_non_terminal() override;
    store_status delete_request(const uuid& id) override;
    std::uint64_t commit_batches() const override;
    std::uint64_t committed_writes() const override;
    // Snapshots that replaced a newer-not-yet-written one of the same request.
    std::uint64_t coalesced_writes() const override;

    // account_store (sqlite_store_accounts.cpp)
    store_status add_user(const std::string& name, std::string_view password, bool admin) override;
    std::optional<user_record> get_user(const std::string& name) override;
    std::vector<user_record> list_users() override;
    store_status read_users(std::vector<user_record>& out) override;
    store_status delete_user(const std::string& name) override;
    store_status set_password(const std::string& name, std::string_view password) override;
    store_status set_admin(const std::string& name, bool admin) override;
    store_status set_disabled(const std::string& name, bool disabled) override;
    std::optional<user_record> verify_login(const std::string& name, std::string_view password) override;
    secret_result create_session(const std::string& username) override;
    std::optional<user_record> find_session_user(std::string_view token) override;
    store_status delete_session(std::string_view token) override;
    std::size_t delete_expired_sessions() override;
    secret_result create_api_key(const std::string& username) override;
    std::vector<api_key_record> list_api_keys(const std::string& username) override;
    std::vector<api_key_record> list_all_api_keys() override;
    store_status revoke_api_key(std::int64_t id) override;
    store_status revoke_user_api_key(const std::string& username, std::int64_t id) override;
    std::optional<user_record> find_api_key_user(std::string_view key) override;
    std::optional<user_record> cached_api_key_user(std::string_view key) override;
    std::optional<user_record> cached_session_user(std::string_view token) override;

    // space_store (sqlite_store_spaces.cpp)
    secret_result add_space(const space_config& config) override;
    store_status update_space(const space_config& config) override;
    store_status delete_space(const std::string& name) override;
    std::optional<space_config> get_space(const std::string& name) override;
    std::vector<space_config> list_spaces() override;
    store_status read_spaces(std::vector<space_config>& out) override;
    secret_result rotate_space_token(const std::string& name) override;
    store_status set_space_token_hash(const std::string& name, const std::string& token_hash) override;

    // operations_store (sqlite_store_operations.cpp)
    std::vector<removable_request> finished_requests(std::optional<time_point> cutoff, std::size_t limit,
                                                     std::size_t offset) override;
    std::size_t remove_requests(const std::vector<removable_request>& requests, std::string_view reason,
                                time_point now) override;
    std::optional<removed_request> find_removed(const uuid& id) override;
    std::size_t forget_removed(time_point before) override;
    std::vector<uuid> removed_after(std::int64_t after_seq, std::int64_t& newest_seq) override;
    data_usage usage() override;
    std::uint64_t next_boot() override;
    std::uint64_t config_version() override;
    void forget_credentials() override { credentials_.invalidate(); }
    void set_change_listener(std::function<void()> listener) override;
    bool healthy() const override { return healthy_.load(); }
    std::size_t writes_waiting_retry() const override;

  private:
    // Runs `fn(reader_)` under the read mutex; on an exception logs it and
    // returns `fallback`. Reads never throw to callers.
    template <typename T, typename Fn> T read(const char* what, T fallback, Fn&& fn);
    // Runs a synchronous write job; `failed` if the job or the commit failed.
    template <typename Fn> store_status write_sync(Fn&& fn);

    struct pending_write {
        uuid id;
        request_record snapshot;
        std::vector<durable_callback> callbacks;
        bool first = false;   // holds the request's first snapshot: a failure is final
        bool dropped = false; // its request was withdrawn before it was written
    };
    void remember_withdrawn(const uuid& id); // under pending_mu_
    void queue_write(request_record snapshot, durable_callback on_durable, bool first);
    void release_pending(const pending_write& p); // under pending_mu_
    void written(const pending_write& p, bool ok); // after the commit, writer thread
    void retry_loop();
    // Reads on the maintenance connection (retention, usage, the change
    // watcher), so that their scans never hold up the API's reads.
    template <typename T, typename Fn> T read_maintenance(const char* what, T fallback, Fn&& fn);
    void changed(); // runs the change listener

    std::optional<user_record> read_user_by(const char* sql, const std::string& key, std::int64_t now_ms);
    // find_api_key_user / find_session_user through credentials_.
    std::optional<user_record> cached_user_by(char kind, const char* sql, const std::string& hash, std::int64_t now_ms);
    const std::string& dummy_password_hash();

    const clock_source& clock_;
    const store_options options_;
    // The writer is built first: it runs the migrations the reader relies on.
    group_commit_writer writer_;
    // Used only inside writer jobs (the writer thread); made at the first
    // write, after the migrations. Declared after writer_ so it goes before
    // the connection it was prepared on.
    std::unique_ptr<request_rows::request_upserter> upserter_;
    // Snapshots queued for the writer and not yet taken by it, by request.
    mutable std::mutex pending_mu_;
    std::unordered_map<uuid, std::shared_ptr<pending_write>, uuid_hash> pending_;
    std::uint64_t coalesced_ = 0;
    // Snapshots whose write failed, newest per request, written again by
    // retry_thread_ (under pending_mu_).
    std::unordered_map<uuid, request_record, uuid_hash> retry_;
    std::unordered_map<uuid, std::chrono::steady_clock::time_point, uuid_hash> withdrawn_;
    std::condition_variable retry_cv_;
    bool closing_ = false;
    std::atomic<bool> healthy_{true};
    std::mutex read_mu_;
    SQLite::Database reader_;
    // Who a key or session token belongs to, for up to 1 s; every write_sync
    // (all account, session and key changes go through it) clears it.
    credential_cache credentials_{std::chrono::seconds(1), 10'000};
    std::once_flag dummy_once_;
    std::string dummy_hash_;
    std::mutex maintenance_mu_;
    SQLite::Database maintenance_;
    std::mutex listener_mu_;
    std::function<void()> listener_;
    std::thread retry_thread_; // last: started once everything above exists
};

template <typename T, typename Fn> T sqlite_store::read_maintenance(const char* what, T fallback, Fn&& fn) {
    std::lock_guard lock(maintenance_mu_);
    try {
        return fn(maintenance_);
    } catch (const std::exception& e) {
        log::error("store: {} failed: {}", what, e.what());
        return fallback;
    }
}

template <typename T, typename Fn> T sqlite_store::read(const char* what, T fallback, Fn&& fn) {
    std::lock_guard lock(read_mu_);
    try {
        return fn(reader_);
    } catch (const std::exception& e) {
        log::error("store: {} failed: {}", what, e.what());
        return fallback;
    }
}

template <typename Fn> store_status sqlite_store::write_sync(Fn&& fn) {
    store_status status = store_status::ok;
    const bool ok = writer_.run([&](SQLite::Database& db) { status = fn(db); });
    // After the commit: a lookup that read the old rows cannot put them back
    // (credential_cache::put checks the epoch it started with).
    credentials_.invalidate();
    if (ok && status == store_status::ok) changed();
    return ok ? status : store_status::failed;
}

// Opens a connection with the pragmas every connection needs (WAL, synchronous,
// foreign keys, busy timeout).
SQLite::Database open_connection(const std::filesystem::path& db_path, bool create);

} // namespace tether::broker

#pragma once
// The store's single writer: one thread, one SQLite connection, a queue of
// write jobs. Each pass takes everything queued (up to max_batch) into ONE
// transaction, so a burst of N writes costs one commit (one fsync), not N.
// Each job runs in its own SAVEPOINT: a job that throws fails alone.
// Knows nothing of requests or users: jobs are opaque functions.

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace tether::broker {

class group_commit_writer {
  public:
    // Runs on the writer thread inside the batch transaction; throws to fail.
    using job = std::function<void(SQLite::Database&)>;
    // Called on the writer thread after COMMIT (true) or after the job or the
    // commit failed (false).
    using done_callback = std::function<void(bool ok)>;

    // Takes an open, configured, migrated connection and starts the thread.
    group_commit_writer(SQLite::Database db, std::size_t max_batch);
    // Commits everything queued, then stops the thread.
    ~group_commit_writer();
    group_commit_writer(const group_commit_writer&) = delete;
    group_commit_writer& operator=(const group_commit_writer&) = delete;

    // Queues a job. After close(), `done` is called with false at once.
    void submit(job j, done_callback done);
    // Submits and waits for the job's outcome. Must not be called on the writer thread.
    bool run(job j);
    // Waits until every job submitted before the call has been committed or failed
    // (and its callback has returned).
    void flush();
    // Stops accepting jobs, commits what is queued and joins the thread. Idempotent.
    void close();

    std::uint64_t batches() const;
    std::uint64_t jobs_committed() const;

  private:
    struct entry {
        job apply;
        done_callback done;
    };

    void loop();
    bool commit(std::deque<entry>& batch, std::vector<bool>& ok);

    SQLite::Database db_;
    const std::size_t max_batch_;
    // The transaction statements, compiled once (sqlite3_exec parsed them on
    // every batch and every job: ~15% of the broker's time under load).
    struct control {
        explicit control(SQLite::Database& db);
        SQLite::Statement begin, commit, rollback, savepoint, release, rollback_to;
    };
    std::unique_ptr<control> control_; // made on the writer thread

    mutable std::mutex mu_;
    std::condition_variable work_cv_;
    std::condition_variable done_cv_;
    std::deque<entry> queue_;
    std::uint64_t submitted_ = 0; // jobs ever queued
    std::uint64_t finished_ = 0;  // jobs whose outcome is known and callback returned
    std::uint64_t batches_ = 0;
    std::uint64_t committed_ = 0;
    bool closing_ = false;
    std::thread thread_; // last: started after everything above is ready
};

} // namespace tether::broker

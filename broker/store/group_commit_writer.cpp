#include "store/group_commit_writer.hpp"

#include "tether/shared/log.hpp"

#include <future>
#include <utility>
#include <vector>

namespace tether::broker {

namespace {
// Runs a prepared statement that returns no rows; reset first, so a statement
// left mid-way by an earlier failure runs again cleanly (tryReset: reset()
// would throw that earlier failure again and fail this use too).
void run_stmt(SQLite::Statement& st) {
    (void)st.tryReset();
    st.exec();
}
} // namespace

group_commit_writer::control::control(SQLite::Database& db)
    : begin(db, "BEGIN IMMEDIATE"), commit(db, "COMMIT"), rollback(db, "ROLLBACK"), savepoint(db, "SAVEPOINT job"),
      release(db, "RELEASE job"), rollback_to(db, "ROLLBACK TO job") {}

group_commit_writer::group_commit_writer(SQLite::Database db, std::size_t max_batch)
    : db_(std::move(db)), max_batch_(max_batch == 0 ? 1 : max_batch), thread_([this] { loop(); }) {}

group_commit_writer::~group_commit_writer() {
    close();
}

void group_commit_writer::submit(job j, done_callback done) {
    {
        std::lock_guard lock(mu_);
        if (!closing_) {
            queue_.push_back(entry{std::move(j), std::move(done)});
            ++submitted_;
            work_cv_.notify_one();
            return;
        }
    }
    log::warn("store: write after close refused");
    if (done) done(false);
}

bool group_commit_writer::run(job j) {
    std::promise<bool> outcome;
    auto result = outcome.get_future();
    submit(std::move(j), [&outcome](bool ok) { outcome.set_value(ok); });
    return result.get();
}

void group_commit_writer::flush() {
    std::unique_lock lock(mu_);
    const std::uint64_t target = submitted_;
    done_cv_.wait(lock, [&] { return finished_ >= target; });
}

void group_commit_writer::close() {
    {
        std::lock_guard lock(mu_);
        closing_ = true;
        work_cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
}

std::uint64_t group_commit_writer::batches() const {
    std::lock_guard lock(mu_);
    return batches_;
}

std::uint64_t group_commit_writer::jobs_committed() const {
    std::lock_guard lock(mu_);
    return committed_;
}

void group_commit_writer::loop() {
    std::unique_lock lock(mu_);
    for (;;) {
        work_cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
        if (queue_.empty()) return; // closing, and nothing left to commit
        // Everything that queued up while the previous batch was committing
        // goes into this one: that is the group commit.
        std::deque<entry> batch;
        while (!queue_.empty() && batch.size() < max_batch_) {
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        lock.unlock();

        std::vector<bool> ok(batch.size(), false);
        const bool committed = commit(batch, ok);
        std::uint64_t good = 0;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            const bool durable = committed && ok[i];
            if (durable) ++good;
            if (!batch[i].done) continue;
            try {
                batch[i].done(durable);
            } catch (const std::exception& e) {
                // A throwing callback is a caller bug; it must not stop the writer.
                log::error("store: durable callback threw: {}", e.what());
            }
        }

        lock.lock();
        ++batches_;
        committed_ += good;
        finished_ += batch.size();
        done_cv_.notify_all();
    }
}

bool group_commit_writer::commit(std::deque<entry>& batch, std::vector<bool>& ok) {
    try {
        if (!control_) control_ = std::make_unique<control>(db_);
        run_stmt(control_->begin);
    } catch (const std::exception& e) {
        log::error("store: cannot begin a write transaction: {}", e.what());
        return false;
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
        try {
            run_stmt(control_->savepoint);
            batch[i].apply(db_);
            run_stmt(control_->release);
            ok[i] = true;
        } catch (const std::exception& e) {
            log::error("store: write failed: {}", e.what());
            try {
                run_stmt(control_->rollback_to);
                run_stmt(control_->release);
            } catch (const std::exception& inner) {
                log::error("store: cannot roll back a failed write: {}", inner.what());
            }
        }
    }
    try {
        run_stmt(control_->commit);
        return true;
    } catch (const std::exception& e) {
        log::error("store: commit failed: {}", e.what());
        try {
            run_stmt(control_->rollback);
        } catch (const std::exception&) {
            // The transaction may already be gone; nothing more to undo.
        }
        return false;
    }
}

} // namespace tether::broker

#include "app/admin_maintenance.hpp"

#include "store/blob_store.hpp"
#include "store/retention.hpp"
#include "store/schema.hpp"
#include "tether/shared/clock.hpp"
#include "tether/shared/units.hpp"

#include <SQLiteCpp/Backup.h>
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <fmt/format.h>
#include <sqlite3.h>

#include <system_error>

namespace tether::broker::admin {
namespace fs = std::filesystem;
namespace {

fs::path blobs_beside(const fs::path& db_file) {
    return fs::path(db_file.string() + ".blobs");
}

std::string mib(std::uint64_t bytes) {
    return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

// One consistent copy of `from` into the new database file `to`, whichever
// journal mode `from` is in; the copy ends as one self-contained file.
void copy_database(const fs::path& from, const fs::path& to) {
    SQLite::Database src(from.string(), SQLite::OPEN_READWRITE, 5000);
    SQLite::Database dst(to.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    SQLite::Backup copy(dst, src);
    // All pages in one step: one read transaction on the source, so the copy
    // is the database as of one commit, while writers go on (WAL).
    for (int tries = 0;; ++tries) {
        const int rc = copy.executeStep(-1);
        if (rc == SQLITE_DONE) break;
        if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && tries < 100) {
            sqlite3_sleep(50);
            continue;
        }
        throw std::runtime_error("the online backup stopped: " + std::string(sqlite3_errstr(rc)));
    }
    dst.exec("PRAGMA journal_mode = DELETE");
}

struct file_row {
    std::string request_id;
    std::string direction;
    std::int64_t blob = 0;
    std::string path;
    std::uint64_t size = 0;
};

std::vector<file_row> file_rows(SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT request_id, direction, blob, path, size FROM request_files");
    std::vector<file_row> out;
    while (q.executeStep()) {
        out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getInt64(),
                       q.getColumn(3).getString(), static_cast<std::uint64_t>(q.getColumn(4).getInt64())});
    }
    return out;
}

std::string blob_name(const file_row& f) {
    return (f.direction == "in" ? "in-" : "out-") + std::to_string(f.blob);
}

// A request id from the database names a directory: accept only the uuid
// form, so a hand-edited row cannot point a copy outside the target.
bool safe_id(const std::string& id) {
    return uuid::parse(id).has_value();
}

} // namespace

std::optional<std::chrono::milliseconds> parse_retain(const std::string& text) {
    if (text == "forever" || text == "never" || text == "0") return std::chrono::milliseconds::zero();
    auto d = parse_duration(text);
    if (!d || d->count() <= 0) return std::nullopt;
    return d;
}

int prune(const prune_options& options, const fs::path& data_dir, std::ostream& out, std::ostream& err) {
    retention_policy policy;
    auto retain = parse_retain(options.retain);
    if (!retain) {
        err << "error: bad --retain \"" << options.retain << "\": a duration like 30d, 12h or 90m, or \"forever\"\n";
        return exit_usage;
    }
    policy.retain = retain->count() == 0 ? std::nullopt : std::optional(*retain);
    if (!options.max_data_size.empty()) {
        auto sz = parse_size(options.max_data_size);
        if (!sz || *sz == 0) {
            err << "error: bad --max-data-size \"" << options.max_data_size << "\": a size like 50GiB\n";
            return exit_usage;
        }
        policy.max_data_bytes = *sz;
    }
    if (!policy.retain && !policy.max_data_bytes) {
        err << "error: nothing to do: --retain forever and no --max-data-size\n";
        return exit_usage;
    }
    auto db = open_data(data_dir, err);
    if (!db) return exit_failure;
    static const system_clock_source clock;
    blob_store blobs(blobs_path(data_dir));
    policy.pause = std::chrono::milliseconds(options.dry_run ? 0 : 5);
    const auto report = retention(*db, blobs, clock, policy).run(options.dry_run);
    const char* verb = options.dry_run ? "would remove" : "removed";
    out << fmt::format("{} {} finished request(s) ({} older than --retain, {} for --max-data-size), {} of files\n",
                       verb, report.removed(), report.removed_by_age, report.removed_by_size, mib(report.file_bytes));
    if (options.dry_run) {
        for (const auto& r : report.sample)
            out << fmt::format("  {}  {:<24} finished {}\n", r.id.to_string(), r.username, format_rfc3339(r.finished));
        if (report.removed() > report.sample.size())
            out << fmt::format("  … and {} more\n", report.removed() - report.sample.size());
    }
    out << fmt::format("data: {} (database {}, files {}){}\n", mib(report.usage_after.total()),
                       mib(report.usage_after.database_bytes), mib(report.usage_after.file_bytes),
                       options.dry_run && policy.max_data_bytes ? " after, estimated" : "");
    if (!options.dry_run && report.tombstones_forgotten > 0)
        out << fmt::format("forgot {} request(s) removed more than --retain ago (they now answer 404, not 410)\n",
                           report.tombstones_forgotten);
    if (report.over_budget)
        err << "warning: still above --max-data-size: no finished request is left; unfinished requests and their "
               "uploads fill the rest\n";
    return exit_ok;
}

int backup(const fs::path& to, const fs::path& data_dir, std::ostream& out, std::ostream& err) {
    const auto source = database_path(data_dir);
    std::error_code ec;
    if (!fs::is_regular_file(source, ec)) {
        err << "error: no store at " << source.string() << " (is --data right?)\n";
        return exit_failure;
    }
    const auto files_to = blobs_beside(to);
    if (fs::exists(to, ec) || fs::exists(files_to, ec)) {
        err << "error: " << to.string() << " or " << files_to.string() << " exists already; choose a new name\n";
        return exit_failure;
    }
    const auto began = std::chrono::system_clock::now();
    try {
        copy_database(source, to);
    } catch (const std::exception& e) {
        err << "error: cannot copy the store: " << e.what() << '\n';
        fs::remove(to, ec);
        return exit_failure;
    }
    // The files the copy names, and only those: a request removed since is
    // not in the copy, one accepted since has no row in it.
    std::size_t copied = 0;
    std::size_t missing = 0;
    std::uint64_t bytes = 0;
    std::size_t requests = 0;
    try {
        SQLite::Database db(to.string(), SQLite::OPEN_READONLY);
        requests = static_cast<std::size_t>(db.execAndGet("SELECT count(*) FROM requests").getInt64());
        for (const auto& f : file_rows(db)) {
            if (!safe_id(f.request_id)) continue;
            const auto dir = files_to / f.request_id;
            fs::create_directories(dir);
            if (!fs::copy_file(f.path, dir / blob_name(f), fs::copy_options::overwrite_existing, ec) || ec) {
                ++missing; // removed by retention since the copy began, or lost earlier
                ec.clear();
                continue;
            }
            ++copied;
            bytes += f.size;
        }
    } catch (const std::exception& e) {
        err << "error: cannot copy the request files: " << e.what() << '\n';
        return exit_failure;
    }
    out << fmt::format("backup of {} as of {}: {} request(s), {} file(s) ({}) in {} and {}\n", data_dir.string(),
                       format_rfc3339(began), requests, copied, mib(bytes), to.string(), files_to.string());
    if (missing > 0)
        err << "warning: " << missing << " file(s) named in the store were not on disk (removed meanwhile)\n";
    return exit_ok;
}

int restore(const fs::path& from, const fs::path& data_dir, std::ostream& out, std::ostream& err) {
    std::error_code ec;
    if (!fs::is_regular_file(from, ec)) {
        err << "error: no backup at " << from.string() << '\n';
        return exit_failure;
    }
    const auto target = database_path(data_dir);
    if (fs::exists(target, ec)) {
        err << "error: " << data_dir.string() << " holds a store already; restore into a new directory\n";
        return exit_failure;
    }
    try {
        SQLite::Database check(from.string(), SQLite::OPEN_READONLY);
        const int version = schema::version_of(check);
        if (version == 0 || version > schema::current_version()) {
            err << "error: " << from.string() << " is not a backup this broker can read (schema version " << version
                << ")\n";
            return exit_failure;
        }
    } catch (const std::exception& e) {
        err << "error: " << from.string() << " is not a database: " << e.what() << '\n';
        return exit_failure;
    }
    const auto blobs_root = fs::absolute(blobs_path(data_dir));
    std::size_t files = 0;
    try {
        fs::create_directories(blobs_root);
        copy_database(from, target);
        SQLite::Database db(target.string(), SQLite::OPEN_READWRITE);
        const auto files_from = blobs_beside(from);
        SQLite::Statement set_path(db, "UPDATE request_files SET path = ? WHERE request_id = ? AND direction = ? "
                                       "AND blob = ?");
        for (const auto& f : file_rows(db)) {
            if (!safe_id(f.request_id)) continue;
            const auto dest = blobs_root / f.request_id / blob_name(f);
            const auto src = files_from / f.request_id / blob_name(f);
            if (fs::is_regular_file(src, ec)) {
                fs::create_directories(dest.parent_path());
                fs::copy_file(src, dest, fs::copy_options::overwrite_existing);
                ++files;
            }
            set_path.reset();
            set_path.bind(1, dest.string());
            set_path.bind(2, f.request_id);
            set_path.bind(3, f.direction);
            set_path.bind(4, f.blob);
            set_path.exec();
        }
    } catch (const std::exception& e) {
        err << "error: restore failed: " << e.what() << " (remove " << data_dir.string() << " and try again)\n";
        return exit_failure;
    }
    // Opening runs any migration the backup needs, so the first start is plain.
    auto db = open_data(data_dir, err);
    if (!db) return exit_failure;
    out << fmt::format("restored {} into {} with {} file(s). Requests accepted after the backup began are not in "
                       "it; those in flight then are requeued when the broker starts.\n",
                       from.string(), data_dir.string(), files);
    return exit_ok;
}

} // namespace tether::broker::admin

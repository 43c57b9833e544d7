#include "store/request_rows.hpp"

#include "tether/shared/log.hpp"

#include <SQLiteCpp/Statement.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

namespace tether::broker::request_rows {
namespace {

constexpr std::array<std::pair<request_state, std::string_view>, 8> state_names{{
    {request_state::queued, "queued"},
    {request_state::dispatched, "dispatched"},
    {request_state::processing, "processing"},
    {request_state::streaming, "streaming"},
    {request_state::completed, "completed"},
    {request_state::failed, "failed"},
    {request_state::timeout, "timeout"},
    {request_state::cancelled, "cancelled"},
}};

// Column order shared by every SELECT below; read_row depends on it.
constexpr const char* select_columns =
    "SELECT r.id, r.space, r.username, r.prompt, r.params_json, r.messages_json, r.state, r.attempts, "
    "r.created_ms, r.deadline_ms, r.dispatched_ms, r.started_ms, r.finished_ms, r.last_event_id, "
    "s.output_text, s.result_json, s.inference_ms, s.error_code, s.error_message "
    "FROM requests r LEFT JOIN results s ON s.request_id = r.id ";

void bind_optional_time(SQLite::Statement& st, int index, const std::optional<time_point>& t) {
    if (t) {
        st.bind(index, static_cast<std::int64_t>(to_unix_ms(*t)));
    } else {
        st.bind(index);
    }
}

std::optional<time_point> optional_time(const SQLite::Column& c) {
    if (c.isNull()) return std::nullopt;
    return from_unix_ms(c.getInt64());
}

std::optional<std::string> optional_text(const SQLite::Column& c) {
    if (c.isNull()) return std::nullopt;
    return c.getString();
}

// A row whose id or state does not parse (hand-edited database, a newer
// broker's state) is skipped with a warning rather than failing the whole read.
std::optional<request_record> read_row(SQLite::Statement& q) {
    const std::string id_text = q.getColumn(0).getString();
    auto id = uuid::parse(id_text);
    auto state = parse_state_column(q.getColumn(6).getString());
    if (!id || !state) {
        log::warn("store: skipping request row with bad id or state: {}", id_text);
        return std::nullopt;
    }
    request_record r;
    r.id = *id;
    r.space = q.getColumn(1).getString();
    r.username = q.getColumn(2).getString();
    r.prompt = optional_text(q.getColumn(3));
    r.params_json = q.getColumn(4).getString();
    r.messages_json = optional_text(q.getColumn(5));
    r.state = *state;
    r.attempts = q.getColumn(7).getInt();
    r.created = from_unix_ms(q.getColumn(8).getInt64());
    r.deadline = from_unix_ms(q.getColumn(9).getInt64());
    r.dispatched_at = optional_time(q.getColumn(10));
    r.started_at = optional_time(q.getColumn(11));
    r.finished_at = optional_time(q.getColumn(12));
    r.last_event_id = static_cast<std::uint64_t>(q.getColumn(13).getInt64());
    r.output_text = q.getColumn(14).getString(); // NULL (no results row) reads as ""
    r.result_json = q.getColumn(15).getString();
    if (!q.getColumn(16).isNull()) r.inference_ms = q.getColumn(16).getDouble();
    r.error.code = q.getColumn(17).getString();
    r.error.message = q.getColumn(18).getString();
    return r;
}

void load_files(SQLite::Database& db, request_record& r) {
    SQLite::Statement q(db, "SELECT direction, blob, field, name, mime, size, path, sha256 FROM request_files "
                            "WHERE request_id = ? ORDER BY direction, blob");
    q.bind(1, r.id.to_string());
    while (q.executeStep()) {
        stored_file f;
        f.blob = static_cast<std::uint32_t>(q.getColumn(1).getInt64());
        f.field = q.getColumn(2).getString();
        f.name = q.getColumn(3).getString();
        f.mime = q.getColumn(4).getString();
        f.size = static_cast<std::uint64_t>(q.getColumn(5).getInt64());
        f.path = q.getColumn(6).getString();
        f.sha256 = q.getColumn(7).getString();
        (q.getColumn(0).getString() == "in" ? r.inputs : r.outputs).push_back(std::move(f));
    }
}

std::vector<request_record> read_all(SQLite::Database& db, SQLite::Statement& q) {
    std::vector<request_record> out;
    while (q.executeStep()) {
        if (auto r = read_row(q)) out.push_back(std::move(*r));
    }
    q.reset(); // end the read transaction before the per-request file queries
    for (auto& r : out)
        load_files(db, r);
    return out;
}

struct cursor {
    std::int64_t created_ms = 0;
    std::string id;
};

std::optional<cursor> parse_cursor(std::string_view text) {
    const auto sep = text.find('_');
    if (sep == std::string_view::npos || sep == 0 || text.size() > 80) return std::nullopt;
    cursor c;
    const auto* first = text.data();
    const auto* last = text.data() + sep;
    auto [ptr, ec] = std::from_chars(first, last, c.created_ms);
    if (ec != std::errc{} || ptr != last) return std::nullopt;
    auto id = uuid::parse(text.substr(sep + 1));
    if (!id) return std::nullopt;
    c.id = id->to_string();
    return c;
}

} // namespace

std::string_view state_column(request_state s) {
    for (const auto& [state, name] : state_names) {
        if (state == s) return name;
    }
    return "failed"; // unreachable for valid enum values
}

std::optional<request_state> parse_state_column(std::string_view text) {
    for (const auto& [state, name] : state_names) {
        if (name == text) return state;
    }
    return std::nullopt;
}

namespace {
constexpr const char* upsert_request_sql = R"sql(
INSERT INTO requests(id, space, username, prompt, params_json, messages_json, state, attempts,
                     created_ms, deadline_ms, dispatched_ms, started_ms, finished_ms, last_event_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
    space = excluded.space, username = excluded.username, prompt = excluded.prompt,
    params_json = excluded.params_json, messages_json = excluded.messages_json, state = excluded.state,
    attempts = excluded.attempts, created_ms = excluded.created_ms, deadline_ms = excluded.deadline_ms,
    dispatched_ms = excluded.dispatched_ms, started_ms = excluded.started_ms, finished_ms = excluded.finished_ms,
    last_event_id = excluded.last_event_id
)sql";
constexpr const char* clear_files_sql = "DELETE FROM request_files WHERE request_id = ?";
constexpr const char* insert_file_sql = "INSERT OR REPLACE INTO request_files(request_id, direction, blob, field, "
                                        "name, mime, size, path, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr const char* clear_result_sql = "DELETE FROM results WHERE request_id = ?";
constexpr const char* upsert_result_sql = R"sql(
INSERT INTO results(request_id, output_text, result_json, inference_ms, error_code, error_message)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT(request_id) DO UPDATE SET
    output_text = excluded.output_text, result_json = excluded.result_json, inference_ms = excluded.inference_ms,
    error_code = excluded.error_code, error_message = excluded.error_message
)sql";

// A statement reused across calls: start from a clean state even if the
// previous use threw half-way. tryReset, not reset: SQLiteCpp's reset()
// throws the error of the previous step again, so one failed write (a full
// disk, say) would fail the next use of the statement too.
SQLite::Statement& fresh(SQLite::Statement& st) {
    (void)st.tryReset();
    st.clearBindings();
    return st;
}
} // namespace

request_upserter::request_upserter(SQLite::Database& db)
    : request_(db, upsert_request_sql), clear_files_(db, clear_files_sql), insert_file_(db, insert_file_sql),
      result_(db, upsert_result_sql), clear_result_(db, clear_result_sql) {}

void request_upserter::insert_files(const std::string& id, const char* direction,
                                    const std::vector<stored_file>& files) {
    for (const auto& f : files) {
        auto& ins = fresh(insert_file_);
        ins.bind(1, id);
        ins.bind(2, direction);
        ins.bind(3, static_cast<std::int64_t>(f.blob));
        ins.bind(4, f.field);
        ins.bind(5, f.name);
        ins.bind(6, f.mime);
        ins.bind(7, static_cast<std::int64_t>(f.size));
        ins.bind(8, f.path);
        ins.bind(9, f.sha256);
        ins.exec();
    }
}

void request_upserter::upsert(const request_record& record) {
    const std::string id = record.id.to_string();
    auto& req = fresh(request_);
    req.bind(1, id);
    req.bind(2, record.space);
    req.bind(3, record.username);
    if (record.prompt) {
        req.bind(4, *record.prompt);
    } else {
        req.bind(4);
    }
    req.bind(5, record.params_json);
    if (record.messages_json) {
        req.bind(6, *record.messages_json);
    } else {
        req.bind(6);
    }
    req.bind(7, std::string(state_column(record.state)));
    req.bind(8, record.attempts);
    req.bind(9, static_cast<std::int64_t>(to_unix_ms(record.created)));
    req.bind(10, static_cast<std::int64_t>(to_unix_ms(record.deadline)));
    bind_optional_time(req, 11, record.dispatched_at);
    bind_optional_time(req, 12, record.started_at);
    bind_optional_time(req, 13, record.finished_at);
    req.bind(14, static_cast<std::int64_t>(record.last_event_id));
    req.exec();

    // Deleting rows that are not there writes nothing: the common request
    // without files costs an index probe here, not a page write.
    auto& clear = fresh(clear_files_);
    clear.bind(1, id);
    clear.exec();
    insert_files(id, "in", record.inputs);
    insert_files(id, "out", record.outputs);

    // Only a finished request has a result. Writing an empty results row on
    // every state change (~5 per request) dirtied a page each time; no row
    // reads back exactly like an empty one (LEFT JOIN, NULL as ""), and the
    // DELETE keeps "a later snapshot replaces the earlier one" true.
    const bool has_result = !record.output_text.empty() || !record.result_json.empty() || record.inference_ms ||
                            !record.error.code.empty() || !record.error.message.empty();
    if (!has_result) {
        auto& none = fresh(clear_result_);
        none.bind(1, id);
        none.exec();
        return;
    }
    auto& res = fresh(result_);
    res.bind(1, id);
    res.bind(2, record.output_text);
    res.bind(3, record.result_json);
    if (record.inference_ms) {
        res.bind(4, *record.inference_ms);
    } else {
        res.bind(4);
    }
    res.bind(5, record.error.code);
    res.bind(6, record.error.message);
    res.exec();
}

void upsert(SQLite::Database& db, const request_record& record) { request_upserter(db).upsert(record); }

void remove(SQLite::Database& db, const uuid& id) {
    // Children go by ON DELETE CASCADE (foreign_keys is on for every connection).
    SQLite::Statement del(db, "DELETE FROM requests WHERE id = ?");
    del.bind(1, id.to_string());
    del.exec();
}

std::optional<request_record> select_one(SQLite::Database& db, const uuid& id) {
    SQLite::Statement q(db, std::string(select_columns) + "WHERE r.id = ?");
    q.bind(1, id.to_string());
    auto all = read_all(db, q);
    if (all.empty()) return std::nullopt;
    return std::move(all.front());
}

request_page select_page(SQLite::Database& db, const request_query& query) {
    request_page page;
    std::optional<cursor> after;
    if (!query.cursor.empty()) {
        after = parse_cursor(query.cursor);
        if (!after) {
            page.status = store_status::invalid;
            return page;
        }
    }
    const std::size_t limit = std::clamp<std::size_t>(query.limit, 1, max_request_page);

    std::string sql = std::string(select_columns) + "WHERE 1 = 1 ";
    if (query.username) sql += "AND r.username = :user ";
    if (query.space) sql += "AND r.space = :space ";
    if (after) sql += "AND (r.created_ms < :cms OR (r.created_ms = :cms AND r.id < :cid)) ";
    sql += "ORDER BY r.created_ms DESC, r.id DESC LIMIT :limit";

    SQLite::Statement q(db, sql);
    if (query.username) q.bind(":user", *query.username);
    if (query.space) q.bind(":space", *query.space);
    if (after) {
        q.bind(":cms", static_cast<std::int64_t>(after->created_ms));
        q.bind(":cid", after->id);
    }
    // One more than asked tells whether an older page exists.
    q.bind(":limit", static_cast<std::int64_t>(limit + 1));
    page.records = read_all(db, q);
    if (page.records.size() > limit) {
        page.records.resize(limit);
        page.next_cursor = make_cursor(page.records.back());
    }
    return page;
}

std::vector<request_record> select_non_terminal(SQLite::Database& db) {
    // Submissions in the same millisecond tie on created_ms; rowid is the
    // insertion order, which the single writer keeps equal to submit order,
    // so FIFO order survives a restart (a random id would shuffle them).
    SQLite::Statement q(db, std::string(select_columns) +
                                "WHERE r.state NOT IN ('completed', 'failed', 'timeout', 'cancelled') "
                                "ORDER BY r.created_ms, r.rowid");
    return read_all(db, q);
}

std::string make_cursor(const request_record& last) {
    return std::to_string(to_unix_ms(last.created)) + "_" + last.id.to_string();
}

} // namespace tether::broker::request_rows

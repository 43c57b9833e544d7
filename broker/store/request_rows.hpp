#pragma once
// Mapping between request_record and the requests / request_files / results
// tables. SQL only, no threads: the caller owns the connection and decides
// which thread runs it. Throws SQLite::Exception; callers turn that into values.

#include "core/request.hpp"
#include "store/store_types.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::broker::request_rows {

// The state names as stored in the database. Owned here rather than borrowed
// from to_string(request_state) so a change of display names can never break
// stored data.
std::string_view state_column(request_state s);
std::optional<request_state> parse_state_column(std::string_view text);

// Inserts or replaces the whole record (request row, files, result) with
// statements prepared once for one connection: every state change of every
// request goes through here, and compiling the SQL each time showed up in
// profiles (bench/README.md). Use it on the thread that owns `db`; destroy it
// before the connection.
class request_upserter {
public:
    explicit request_upserter(SQLite::Database& db);
    void upsert(const request_record& record);

private:
    void insert_files(const std::string& id, const char* direction, const std::vector<stored_file>& files);
    SQLite::Statement request_;
    SQLite::Statement clear_files_;
    SQLite::Statement insert_file_;
    SQLite::Statement result_;
    SQLite::Statement clear_result_;
};

// One-off form of request_upserter::upsert (prepares the statements each call).
void upsert(SQLite::Database& db, const request_record& record);
void remove(SQLite::Database& db, const uuid& id);

std::optional<request_record> select_one(SQLite::Database& db, const uuid& id);
// Newest first. An unparsable cursor gives status invalid.
request_page select_page(SQLite::Database& db, const request_query& query);
// Non-terminal, oldest first.
std::vector<request_record> select_non_terminal(SQLite::Database& db);

// Cursor text "<created_ms>_<id>" of the last record of a page.
std::string make_cursor(const request_record& last);

} // namespace tether::broker::request_rows

#pragma once
// The database schema as an ordered list of migrations, run at open inside one
// transaction each. Append new versions at the end; never edit a shipped one
// (databases in the field are at every earlier version).

#include <SQLiteCpp/Database.h>

namespace tether::broker::schema {

// The version a database has after migrate().
int current_version();

// 0 for a new (empty) database.
int version_of(SQLite::Database& db);

// Brings the database from its version to current_version(), in order.
// Throws SQLite::Exception or std::runtime_error (a database newer than this
// code): called only at start-up.
void migrate(SQLite::Database& db);

} // namespace tether::broker::schema

#pragma once
// tether-broker's maintenance subcommands: prune (retention on demand),
// backup (a consistent copy of a live store and the files it names) and
// restore (a new data directory from a backup). Like admin_commands: parsed
// options in, exit code out, nothing read from the environment.

#include "app/admin_commands.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

namespace tether::broker::admin {

// "30d", "12h", "90m", "2s"…; "forever", "never" or "0": keep forever (zero).
// nullopt when it is neither.
std::optional<std::chrono::milliseconds> parse_retain(const std::string& text);

struct prune_options {
    bool dry_run = false;
    std::string retain = "30d";
    std::string max_data_size; // empty: no size budget
};
int prune(const prune_options& options, const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err);

// Copies <data>/tether.db to `to` with SQLite's online backup (one read
// transaction: a consistent snapshot, while the broker keeps writing), then
// the files the copy names to `to`.blobs/<request-id>/. Refuses to overwrite.
int backup(const std::filesystem::path& to, const std::filesystem::path& data_dir, std::ostream& out,
           std::ostream& err);
// Makes `data_dir` (new or empty) from a backup: the database, its files, and
// the file paths rewritten for the new place. Refuses a directory that holds
// a store already.
int restore(const std::filesystem::path& from, const std::filesystem::path& data_dir, std::ostream& out,
            std::ostream& err);

} // namespace tether::broker::admin

#pragma once
// Plain values the store hands out and takes in: outcome codes, accounts,
// one-time secrets and request list pages. No SQL and no I/O here.

#include "core/request.hpp"
#include "tether/shared/clock.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::broker {

// Outcome of a store mutation. Failures are values: `failed` means the disk or
// SQLite refused (already logged); nothing in the store throws after open.
enum class store_status {
    ok,
    not_found,      // the user / space / key / session named does not exist
    already_exists, // a user or space with that name exists
    invalid,        // a name or value the store refuses (e.g. a bad user name, a bad cursor)
    failed,         // I/O or SQLite error
};
std::string_view to_string(store_status s);

// A secret created by the store (session token, API key, space agent token).
// `secret` is the clear text, returned exactly once; only its hash is kept.
struct secret_result {
    store_status status = store_status::failed;
    std::string secret; // empty unless status == ok
    bool ok() const { return status == store_status::ok; }
};

struct user_record {
    std::string name;
    std::string password_hash; // tether::hash_password format; never the password
    bool admin = false;
    time_point created{};
    bool disabled = false; // cannot sign in; its sessions are gone and its API keys refused
    friend bool operator==(const user_record&, const user_record&) = default;
};

struct api_key_record {
    std::int64_t id = 0; // stable handle for listing and revoking
    std::string prefix;  // first characters of the key ("tk_1a2b3c4d"), enough to recognise it
    std::string username;
    time_point created{};
    friend bool operator==(const api_key_record&, const api_key_record&) = default;
};

// Which requests to list, newest first. Paging is by an opaque cursor taken
// from the previous page, so inserts between pages do not shift results.
struct request_query {
    std::optional<std::string> username; // nullopt: everyone's (admins)
    std::optional<std::string> space;    // nullopt: every space
    std::size_t limit = 50;              // clamped to [1, max_request_page]
    std::string cursor;                  // empty: start from the newest
};
constexpr std::size_t max_request_page = 500;

struct request_page {
    store_status status = store_status::ok; // invalid: malformed cursor; failed: read error
    std::vector<request_record> records;
    std::string next_cursor; // empty when there is nothing older
};

} // namespace tether::broker

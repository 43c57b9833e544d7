#pragma once
// The broker's durable store: one object that is a request_store, an
// account_store, a space_store and an operations_store, opened from the data
// directory. Today it is SQLite (data/tether.db, WAL); callers depend only on
// these interfaces.

#include "store/account_store.hpp"
#include "store/operations_store.hpp"
#include "store/request_store.hpp"
#include "store/space_store.hpp"
#include "tether/shared/clock.hpp"
#include "tether/shared/crypto.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

namespace tether::broker {

struct store_options {
    std::chrono::seconds session_ttl{std::chrono::hours{24 * 7}};
    // PBKDF2 rounds for new password hashes; tests lower it to stay fast.
    std::uint32_t password_iterations = default_password_iterations;
    // Most snapshots one writer transaction takes; bounds commit latency.
    std::size_t max_batch = 512;
    // How long a snapshot that could not be written waits before the next try.
    std::chrono::milliseconds retry_after{1000};
};

class store : public request_store, public account_store, public space_store, public operations_store {
  public:
    ~store() override = default;
};

// Opens (creating if needed) <data_dir>/tether.db and <data_dir>/blobs/, runs
// migrations, starts the writer thread. Throws std::runtime_error with a clear
// message on failure: this is start-up. `clock` must outlive the store (session
// expiry and created times). Destroying the store flushes queued writes.
std::unique_ptr<store> open_store(const std::filesystem::path& data_dir, const clock_source& clock,
                                  const store_options& options = {});

// The database file inside a data directory.
std::filesystem::path database_path(const std::filesystem::path& data_dir);
// The root for blob_store inside a data directory (<data>/blobs, created by open_store).
std::filesystem::path blobs_path(const std::filesystem::path& data_dir);

} // namespace tether::broker

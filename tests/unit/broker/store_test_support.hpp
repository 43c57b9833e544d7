#pragma once
// Helpers for the store tests: a temporary data directory removed on scope
// exit, fast store options, and a request_record with every field set.

#include "store/store.hpp"
#include "tether/shared/clock.hpp"
#include "tether/shared/ids.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

namespace tether::broker::store_test {

class temp_dir {
  public:
    temp_dir() : path_(std::filesystem::temp_directory_path() / ("tether-store-test-" + random_hex(8))) {
        std::filesystem::create_directories(path_);
    }
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

// Cheap password hashing: the tests exercise the store, not PBKDF2's cost.
inline store_options fast_options() {
    store_options o;
    o.password_iterations = 1000;
    return o;
}

inline std::unique_ptr<store> open_test_store(const std::filesystem::path& dir, const clock_source& clock) {
    return open_store(dir, clock, fast_options());
}

// Times at millisecond precision, as the store keeps them.
inline time_point ms(std::int64_t unix_ms) {
    return from_unix_ms(unix_ms);
}

inline request_record full_record(std::string space = "MySpace", std::string user = "alice",
                                  std::int64_t created_ms = 1'800'000'000'000) {
    request_record r;
    r.id = uuid::random();
    r.space = std::move(space);
    r.username = std::move(user);
    r.prompt = "Say hello";
    r.params_json = R"({"max_tokens":64})";
    r.messages_json = R"([{"role":"user","content":"hi"}])";
    r.inputs.push_back(stored_file{1, "audio", "a.wav", "audio/wav", 12345, "/data/blobs/x/in-1", "ab12"});
    r.inputs.push_back(stored_file{2, "file", "notes.txt", "text/plain", 7, "/data/blobs/x/in-2", ""});
    r.state = request_state::completed;
    r.attempts = 2;
    r.created = ms(created_ms);
    r.deadline = ms(created_ms + 120'000);
    r.dispatched_at = ms(created_ms + 10);
    r.started_at = ms(created_ms + 20);
    r.finished_at = ms(created_ms + 900);
    r.output_text = "Hello";
    r.result_json = R"({"output":"Hello","confidence":0.95})";
    r.outputs.push_back(stored_file{1, "", "out.wav", "audio/wav", 4410, "/data/blobs/x/out-1", "cd34"});
    r.inference_ms = 812.5;
    r.error = protocol::error_info{"", ""};
    r.last_event_id = (std::uint64_t{7} << 32) + 12;
    return r;
}

inline request_record queued_record(std::string user, std::int64_t created_ms, std::string space = "MySpace") {
    request_record r;
    r.id = uuid::random();
    r.space = std::move(space);
    r.username = std::move(user);
    r.prompt = "p";
    r.created = ms(created_ms);
    r.deadline = ms(created_ms + 120'000);
    return r;
}

// Writes and waits until it is durable; true when the write committed.
inline bool write_durable(store& s, const request_record& r) {
    bool result = false;
    s.write(r, [&result](bool ok) { result = ok; });
    s.flush();
    return result;
}

// The raw bytes of every file of the database (main file and WAL).
inline std::string raw_database_bytes(const std::filesystem::path& dir) {
    std::string all;
    for (const char* name : {"tether.db", "tether.db-wal"}) {
        std::ifstream in(dir / name, std::ios::binary);
        all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return all;
}

} // namespace tether::broker::store_test

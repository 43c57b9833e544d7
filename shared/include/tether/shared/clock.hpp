#pragma once
// Time as the rest of the code sees it: an injectable clock (the broker core
// takes one so deadlines are testable without sleeping) and RFC 3339 text.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace tether {

using time_point = std::chrono::system_clock::time_point;
using std::chrono::milliseconds;

class clock_source {
public:
    virtual ~clock_source() = default;
    virtual time_point now() const = 0;
};

// Wall-clock time.
class system_clock_source final : public clock_source {
public:
    time_point now() const override { return std::chrono::system_clock::now(); }
};

// A clock that moves only when told to; for tests.
class manual_clock final : public clock_source {
public:
    explicit manual_clock(time_point start = time_point{std::chrono::seconds{1'800'000'000}}) : now_(start) {}
    time_point now() const override { return now_; }
    void advance(std::chrono::system_clock::duration d) { now_ += d; }
    void set(time_point t) { now_ = t; }

private:
    time_point now_;
};

// "2026-11-22T12:02:00.123Z" (milliseconds, UTC).
std::string format_rfc3339(time_point t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff]Z"; nullopt on anything else.
std::optional<time_point> parse_rfc3339(std::string_view text);

// Milliseconds since the Unix epoch, as stored in SQLite.
inline std::int64_t to_unix_ms(time_point t) {
    return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}
inline time_point from_unix_ms(std::int64_t ms) { return time_point{milliseconds{ms}}; }

} // namespace tether

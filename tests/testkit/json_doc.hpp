#pragma once
// A parsed JSON document for test assertions (simdjson DOM), read by JSON
// pointer ("/result/output"). Missing or mistyped values come back empty, so
// a test fails on its CHECK instead of an exception deep in a helper.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tether::testkit {

class json_doc {
public:
    json_doc() = default;
    // Pointers with array indexes work: "/spaces/0/name".
    static json_doc parse(std::string_view text);

    bool ok() const { return ok_; }
    const std::string& text() const { return text_; }

    bool has(std::string_view pointer) const;
    std::optional<std::string> string(std::string_view pointer) const;
    std::optional<std::int64_t> integer(std::string_view pointer) const;
    std::optional<double> number(std::string_view pointer) const;
    std::optional<bool> boolean(std::string_view pointer) const;
    // Number of elements of the array at `pointer`; nullopt when not an array.
    std::optional<std::size_t> array_size(std::string_view pointer) const;
    // "" when absent; convenient inside CHECK(doc.str("/status") == "queued").
    std::string str(std::string_view pointer) const { return string(pointer).value_or(""); }

private:
    // simdjson stays out of this header: it is large and slow to compile, and
    // every test includes this. The parser owns the document, so it never moves.
    struct impl;
    std::shared_ptr<const impl> impl_;
    std::string text_;
    bool ok_ = false;
};

} // namespace tether::testkit

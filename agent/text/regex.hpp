#pragma once
// Regular expressions with Oniguruma, the engine the Hugging Face tokenizers
// use, with the same syntax (Ruby) and the same iteration over matches (an
// empty match right where the previous one ended is skipped). Searches are
// bounded: a pattern that backtracks without end fails with regex_error
// instead of hanging the agent. Thread-safe after construction.

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent::text {

struct regex_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One match or gap: [begin, end) of the searched text.
struct span {
    std::size_t begin = 0;
    std::size_t end = 0;
    bool matched = false;
};

class regex {
  public:
    // Throws regex_error naming the problem when the pattern does not compile.
    explicit regex(std::string_view pattern);
    ~regex();
    regex(const regex&) = delete;
    regex& operator=(const regex&) = delete;
    regex(regex&&) noexcept;
    regex& operator=(regex&&) noexcept;

    // Every match in `text` (valid UTF-8), in order, non-overlapping.
    std::vector<std::pair<std::size_t, std::size_t>> find_all(std::string_view text) const;
    // The matches with the gaps between them, covering all of `text`; an empty
    // text gives one empty gap (the shape HF's Pattern::find_matches returns).
    std::vector<span> split_spans(std::string_view text) const;
    bool matches_at_start(std::string_view text) const;

    const std::string& pattern() const { return pattern_; }

    // The pattern that matches `literal` as it is (regex::escape in Rust).
    static std::string escape(std::string_view literal);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::string pattern_;
};

} // namespace tether::agent::text

#pragma once
// SentencePiece's precompiled_charsmap (T5, XLM-R, mBART…): a darts-clone
// double array over UTF-8 bytes whose leaves point into a blob of
// NUL-terminated replacement strings. Parsed and bounds-checked once; every
// lookup stays inside the arrays whatever the file held.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent::text {

class precompiled_charsmap {
  public:
    // `bytes`: the decoded charsmap. Throws std::invalid_argument when it is malformed.
    explicit precompiled_charsmap(std::string_view bytes);

    // The replacement of the shortest prefix of `chunk` that has one (the
    // reference's transform), or nullopt.
    std::optional<std::string_view> transform(std::string_view chunk) const;

  private:
    std::vector<std::uint32_t> array_;
    std::string normalized_;
};

} // namespace tether::agent::text

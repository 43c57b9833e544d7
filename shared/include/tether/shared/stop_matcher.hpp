#pragma once
// Stop strings over streamed text, shared by the agent (generation ends at
// one) and the broker (OpenAI `stop` applied to what an agent streams).
// Pure: whole UTF-8 strings in give whole UTF-8 strings out, since a stop
// string starts on a character.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether {

// Stop strings over a stream of text. push returns what may be shown now:
// text that no stop string can start in is released; a suffix that is the
// beginning of a stop string is held until it is decided. Once a stop string
// is complete, the text before it is released and everything from it on is
// dropped (the stop string itself is not shown). The first to complete wins.
class stop_matcher {
  public:
    explicit stop_matcher(std::vector<std::string> stops);

    std::string push(std::string_view text);
    // End of the stream: what was held is released (it never became a stop string).
    std::string finish();

    bool stopped() const { return stopped_.has_value(); }
    // The index of the stop string found, if one was.
    std::optional<std::size_t> stop_index() const { return stopped_; }
    const std::vector<std::string>& stops() const { return stops_; }

  private:
    std::vector<std::string> stops_;
    std::string held_;
    std::optional<std::size_t> stopped_;
};

} // namespace tether

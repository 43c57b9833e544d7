#pragma once
// Applies OpenAI `stop` sequences to streamed text: passes text through,
// holds back a tail that might be the start of a stop sequence, and ends at
// the first stop sequence (which is not emitted). Pure; whole UTF-8 strings in
// give whole UTF-8 strings out, since a stop sequence starts on a character.

#include <string>
#include <string_view>
#include <vector>

namespace tether::broker::api {

class stop_filter {
  public:
    explicit stop_filter(std::vector<std::string> stops);

    // Text that may be shown now; empty when all of it is held back or the
    // filter has stopped.
    std::string feed(std::string_view text);
    // The end of the output: what was held back (nothing once stopped).
    std::string flush();
    bool stopped() const { return stopped_; }

  private:
    std::vector<std::string> stops_;
    std::string pending_;
    bool stopped_ = false;
};

} // namespace tether::broker::api

// Stop strings over streamed text (OpenAI `stop` in the broker, generation's
// end in the agent): held back while undecided, never shown, found across
// deltas; the first to complete wins.
#include "tether/shared/stop_matcher.hpp"

#include <catch2/catch.hpp>

using tether::stop_matcher;

TEST_CASE("without stop sequences text passes through as it comes", "[stop_matcher]") {
    stop_matcher f({});
    CHECK(f.push("abc") == "abc");
    CHECK(f.finish().empty());
    CHECK_FALSE(f.stopped());
}

TEST_CASE("output ends before the first stop sequence, which is not shown", "[stop_matcher]") {
    stop_matcher f({"END", "\n\n"});
    CHECK(f.push("one two") == "one two");
    CHECK(f.push(" three\n\nfour END") == " three");
    CHECK(f.stopped());
    CHECK(f.push("more").empty());
    CHECK(f.finish().empty());
}

TEST_CASE("a stop sequence split across deltas is still found", "[stop_matcher]") {
    stop_matcher f({"STOP"});
    CHECK(f.push("abc ST") == "abc ");
    CHECK(f.push("O") == "");
    CHECK(f.push("P tail") == "");
    CHECK(f.stopped());
}

TEST_CASE("held-back text that turns out not to be a stop sequence is released", "[stop_matcher]") {
    stop_matcher f({"STOP"});
    CHECK(f.push("ST") == "");
    CHECK(f.push("AR") == "STAR");
    CHECK(f.push("x S") == "x ");
    CHECK(f.finish() == "S");
    CHECK_FALSE(f.stopped());
}

TEST_CASE("multi-byte characters are never split", "[stop_matcher]") {
    stop_matcher f({"é!"});
    CHECK(f.push("café") == "caf");
    CHECK(f.push(" ok") == "é ok");
    CHECK(f.push("é!") == "");
    CHECK(f.stopped());
}

TEST_CASE("the stop matcher, case by case", "[stop_matcher]") {
    stop_matcher m({"###", "\n\nUser:"});
    CHECK(m.push("Hello #") == "Hello ");
    CHECK(m.push("# world") == "## world");
    CHECK(m.push("\n") == "");
    CHECK(m.push("\nUs") == "");
    CHECK(m.push("er: next") == "");
    CHECK(m.stopped());
    CHECK(m.stop_index() == std::optional<std::size_t>(1));
    CHECK(m.push("more") == "");
    CHECK(m.finish() == "");

    stop_matcher n({"ab"});
    CHECK(n.push("xa") == "x");
    CHECK(n.finish() == "a"); // the end: "a" never became "ab"

    stop_matcher none({});
    CHECK(none.push("anything") == "anything");
    CHECK(!none.stopped());

    stop_matcher earliest({"world", "lo w"});
    CHECK(earliest.push("hello world") == "hel");
    CHECK(earliest.stop_index() == std::optional<std::size_t>(1));

    // "l" completes before "de block:" would: generation ends at "l".
    stop_matcher first_done({"de block:", "l"});
    std::string shown;
    for (const char* d : {"Indented co", "de b", "lock:"}) shown += first_done.push(d);
    CHECK(shown == "Indented code b");
    CHECK(first_done.stop_index() == std::optional<std::size_t>(1));
}

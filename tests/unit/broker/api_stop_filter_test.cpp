#include "api/stop_filter.hpp"

#include <catch2/catch.hpp>

using tether::broker::api::stop_filter;

TEST_CASE("without stop sequences text passes through as it comes", "[stop_filter]") {
    stop_filter f({});
    CHECK(f.feed("abc") == "abc");
    CHECK(f.flush().empty());
    CHECK_FALSE(f.stopped());
}

TEST_CASE("output ends before the first stop sequence, which is not shown", "[stop_filter]") {
    stop_filter f({"END", "\n\n"});
    CHECK(f.feed("one two") == "one two");
    CHECK(f.feed(" three\n\nfour END") == " three");
    CHECK(f.stopped());
    CHECK(f.feed("more").empty());
    CHECK(f.flush().empty());
}

TEST_CASE("a stop sequence split across deltas is still found", "[stop_filter]") {
    stop_filter f({"STOP"});
    CHECK(f.feed("abc ST") == "abc ");
    CHECK(f.feed("O") == "");
    CHECK(f.feed("P tail") == "");
    CHECK(f.stopped());
}

TEST_CASE("held-back text that turns out not to be a stop sequence is released", "[stop_filter]") {
    stop_filter f({"STOP"});
    CHECK(f.feed("ST") == "");
    CHECK(f.feed("AR") == "STAR");
    CHECK(f.feed("x S") == "x ");
    CHECK(f.flush() == "S");
    CHECK_FALSE(f.stopped());
}

TEST_CASE("multi-byte characters are never split", "[stop_filter]") {
    stop_filter f({"é!"});
    CHECK(f.feed("café") == "caf");
    CHECK(f.feed(" ok") == "é ok");
    CHECK(f.feed("é!") == "");
    CHECK(f.stopped());
}

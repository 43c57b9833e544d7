// How a backend's reports become what the connection sends: in order, one
// terminal report only, output files read from disk on the worker, and a
// result object that is always valid JSON.

#include "net/job_sink.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

using namespace tether::agent;

namespace {

struct collected {
    std::vector<std::shared_ptr<backend_event>> events;
    job_sink::deliver_fn fn() {
        return [this](std::shared_ptr<backend_event> ev) { events.push_back(std::move(ev)); };
    }
};

} // namespace

TEST_CASE("a sink delivers reports in order and nothing after the first terminal one") {
    collected got;
    job_sink sink(got.fn());
    sink.processing();
    sink.delta("a");
    sink.delta("b");
    CHECK_FALSE(sink.finished());
    sink.completed({"ab", 0.5, "", 3.0});
    sink.delta("late");
    sink.failed("model_error", "late");
    CHECK(sink.finished());
    REQUIRE(got.events.size() == 4);
    CHECK(got.events[0]->what == backend_event::kind::processing);
    CHECK(got.events[1]->text == "a");
    CHECK(got.events[2]->text == "b");
    CHECK(got.events[3]->what == backend_event::kind::completed);
    CHECK(got.events[3]->done.output == "ab");
}

TEST_CASE("an output file given by path is read into memory before it is delivered") {
    const auto path = (std::filesystem::temp_directory_path() / "tether-job-sink-test.bin").string();
    std::ofstream(path, std::ios::binary) << std::string("file\0bytes", 10);
    collected got;
    job_sink sink(got.fn());
    sink.file({"out.bin", "application/octet-stream", "", path});
    std::remove(path.c_str());
    REQUIRE(got.events.size() == 1);
    CHECK(got.events[0]->what == backend_event::kind::file);
    CHECK(got.events[0]->file.bytes == std::string("file\0bytes", 10));
    CHECK(got.events[0]->file.path.empty());
}

TEST_CASE("an unreadable output file fails the job") {
    collected got;
    job_sink sink(got.fn());
    sink.file({"gone.bin", "application/octet-stream", "", "/nonexistent/gone.bin"});
    REQUIRE(got.events.size() == 1);
    CHECK(got.events[0]->what == backend_event::kind::failed);
    CHECK(got.events[0]->text == "backend_error");
    CHECK(sink.finished());
}

TEST_CASE("the result object carries output, confidence, files and the backend's extra members") {
    tether::protocol::file_ref f;
    f.blob = 1;
    f.name = "echo.txt";
    f.mime = "text/plain";
    f.size = 5;
    bool dropped = true;
    auto json = compose_result_json({"hi \"there\"", 0.9, R"({"files_in":[{"size":3}]})", 1.0}, {f}, dropped);
    CHECK_FALSE(dropped);
    simdjson::dom::parser parser;
    auto doc = parser.parse(json);
    REQUIRE(doc.error() == simdjson::SUCCESS);
    CHECK(std::string_view(doc["output"].get_string().value()) == "hi \"there\"");
    CHECK(doc["confidence"].get_double().value() == Approx(0.9));
    CHECK(doc["files"].at(0)["blob"].get_uint64().value() == 1);
    CHECK(std::string_view(doc["files"].at(0)["name"].get_string().value()) == "echo.txt");
    CHECK(doc["files_in"].at(0)["size"].get_uint64().value() == 3);
}

TEST_CASE("malformed extra members are dropped and the result stays valid JSON") {
    simdjson::dom::parser parser;
    for (std::string extra : {R"({"a":})", "[1,2]", R"({"x":1}})", "not json"}) {
        bool dropped = false;
        auto json = compose_result_json({"out", std::nullopt, extra, std::nullopt}, {}, dropped);
        INFO(extra << " -> " << json);
        CHECK(dropped);
        auto doc = parser.parse(json);
        REQUIRE(doc.error() == simdjson::SUCCESS);
        CHECK(std::string_view(doc["output"].get_string().value()) == "out");
    }
    bool dropped = true;
    CHECK(compose_result_json({"out", std::nullopt, "{}", std::nullopt}, {}, dropped) == R"({"output":"out"})");
    CHECK_FALSE(dropped);
}

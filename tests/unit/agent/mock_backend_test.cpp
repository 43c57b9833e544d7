// The mock backend: streamed deltas, echo with the inputs' SHA-256, the
// deterministic #fail and #file prompts, cancellation and the delay range.

#include "backends/mock/mock_backend.hpp"

#include "tether/shared/crypto.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <thread>

using namespace tether::agent;
using namespace std::chrono_literals;

namespace {

// Records what the backend reported, in order.
struct recording_sink final : result_sink {
    std::vector<std::string> events;
    std::vector<std::string> deltas;
    std::vector<output_file> files;
    std::optional<completion> done;
    std::string fail_code;

    void processing() override { events.push_back("processing"); }
    void delta(std::string text) override {
        events.push_back("delta");
        deltas.push_back(std::move(text));
    }
    void file(output_file f) override {
        events.push_back("file");
        files.push_back(std::move(f));
    }
    void completed(completion c) override {
        events.push_back("completed");
        done = std::move(c);
    }
    void failed(std::string code, std::string) override {
        events.push_back("failed");
        fail_code = std::move(code);
    }
};

mock_options quick() {
    mock_options o;
    o.delay_min = 0ms;
    o.delay_max = 0ms;
    o.seed = 42;
    return o;
}

job make_job(std::string prompt) {
    job j;
    j.request_id = "00000000-0000-4000-8000-000000000001";
    j.space = "S";
    j.prompt = std::move(prompt);
    return j;
}

} // namespace

TEST_CASE("the mock streams the reply word by word and completes with an echo of the prompt") {
    mock_backend m(quick());
    recording_sink sink;
    cancellation_token cancel;
    m.run(make_job("hello there world"), cancel, sink);
    REQUIRE(sink.done);
    CHECK(sink.done->output == "echo: hello there world");
    CHECK(sink.events.front() == "processing");
    CHECK(sink.events.back() == "completed");
    CHECK(sink.deltas.size() == 4);
    std::string joined;
    for (const auto& d : sink.deltas)
        joined += d;
    CHECK(joined == sink.done->output);
}

TEST_CASE("the mock reports each input file's size and SHA-256") {
    mock_backend m(quick());
    recording_sink sink;
    cancellation_token cancel;
    auto j = make_job("files");
    input_file a;
    a.field = "audio";
    a.name = "a.wav";
    a.bytes = std::string(1000, 'x');
    a.size = a.bytes.size();
    j.files.push_back(a);
    m.run(j, cancel, sink);
    REQUIRE(sink.done);
    simdjson::dom::parser parser;
    auto doc = parser.parse(sink.done->extra_json);
    REQUIRE(doc.error() == simdjson::SUCCESS);
    auto files = doc["files_in"].get_array();
    REQUIRE(files.error() == simdjson::SUCCESS);
    REQUIRE(files.size() == 1);
    CHECK(std::string_view(files.at(0)["name"].get_string().value()) == "a.wav");
    CHECK(files.at(0)["size"].get_uint64().value() == 1000);
    CHECK(std::string_view(files.at(0)["sha256"].get_string().value()) == tether::sha256_hex(a.bytes));
}

TEST_CASE("a prompt with #fail fails with model_error and sends no result") {
    mock_backend m(quick());
    recording_sink sink;
    cancellation_token cancel;
    m.run(make_job("please #fail now"), cancel, sink);
    CHECK_FALSE(sink.done);
    CHECK(sink.fail_code == "model_error");
    CHECK(sink.events.back() == "failed");
}

TEST_CASE("fail rate 1 always fails and fail rate 0 never does") {
    auto o = quick();
    o.fail_rate = 1.0;
    mock_backend always(o);
    o.fail_rate = 0.0;
    mock_backend never(o);
    for (int i = 0; i < 5; ++i) {
        recording_sink a, b;
        cancellation_token c1, c2;
        always.run(make_job("x"), c1, a);
        never.run(make_job("x"), c2, b);
        CHECK(a.fail_code == "model_error");
        CHECK(b.done);
    }
}

TEST_CASE("a prompt with #file returns echo.txt before the completed result") {
    mock_backend m(quick());
    recording_sink sink;
    cancellation_token cancel;
    m.run(make_job("make a #file"), cancel, sink);
    REQUIRE(sink.files.size() == 1);
    CHECK(sink.files[0].name == "echo.txt");
    CHECK(sink.files[0].mime == "text/plain");
    CHECK(sink.files[0].bytes == "echo: make a #file\n");
    REQUIRE(sink.events.size() >= 2);
    CHECK(sink.events[sink.events.size() - 2] == "file");
    CHECK(sink.events.back() == "completed");
}

TEST_CASE("cancellation ends the mock's wait early instead of sleeping out the delay") {
    mock_options o;
    o.delay_min = 60s; // far longer than the test may take
    o.delay_max = 60s;
    mock_backend m(o);
    recording_sink sink;
    cancellation_token cancel;
    std::thread canceller([&] {
        std::this_thread::sleep_for(50ms);
        cancel.cancel();
    });
    const auto started = std::chrono::steady_clock::now();
    m.run(make_job("a long answer"), cancel, sink);
    const auto took = std::chrono::steady_clock::now() - started;
    canceller.join();
    CHECK_FALSE(sink.done);
    CHECK(sink.fail_code == "cancelled");
    CHECK(took < 30s); // would be 60 s had the cancel been ignored
}

TEST_CASE("a token cancelled before the job starts stops it at once") {
    mock_options o;
    o.delay_min = 60s;
    o.delay_max = 60s;
    mock_backend m(o);
    recording_sink sink;
    cancellation_token cancel;
    cancel.cancel();
    m.run(make_job("x y z"), cancel, sink);
    CHECK(sink.deltas.empty());
    CHECK_FALSE(sink.done);
}

TEST_CASE("mock delays are drawn within the configured range") {
    mock_options o;
    o.delay_min = 200ms;
    o.delay_max = 500ms;
    o.seed = 7;
    mock_backend m(o);
    bool varied = false;
    auto first = m.draw_delay();
    for (int i = 0; i < 200; ++i) {
        auto d = m.draw_delay();
        CHECK(d >= 200ms);
        CHECK(d <= 500ms);
        varied = varied || d != first;
    }
    CHECK(varied);
    mock_options fixed;
    fixed.delay_min = fixed.delay_max = 0ms;
    mock_backend zero(fixed);
    CHECK(zero.draw_delay() == 0ms);
}

// --upstream SPACE=http://…: any HTTP endpoint behind the tunnel. The
// endpoint here is written in the test: it records what it was sent (the
// prompt, params and files, as JSON with base64 or as multipart) and answers
// JSON, plain text, an audio file or an SSE stream, as the prompt asks.
#include "e2e/upstream_support.hpp"
#include "testkit/multipart_body.hpp"
#include "testkit/temp_dir.hpp"
#include "testkit/test_upstream.hpp"

#include "tether/shared/base64.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <tuple>
#include <mutex>

using namespace tether::itest;
using namespace tether::testkit;
using tether::e2e::relay;
using tether::e2e::relay_options;

namespace {

// A WAV file's bytes: 16-bit mono at 16 kHz, `n` samples of a ramp.
std::string wav_bytes(std::size_t n) {
    std::string w = "RIFF";
    auto u32 = [&](std::uint32_t v) {
        for (int i = 0; i < 4; ++i) w.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    };
    auto u16 = [&](std::uint16_t v) {
        w.push_back(static_cast<char>(v & 0xff));
        w.push_back(static_cast<char>(v >> 8));
    };
    u32(static_cast<std::uint32_t>(36 + 2 * n));
    w += "WAVEfmt ";
    u32(16), u16(1), u16(1), u32(16000), u32(32000), u16(2), u16(16);
    w += "data";
    u32(static_cast<std::uint32_t>(2 * n));
    for (std::size_t i = 0; i < n; ++i) u16(static_cast<std::uint16_t>(i * 37));
    return w;
}

const std::string speech = wav_bytes(8000);

// A Gradio-like endpoint: answers {"data":[…]}, and streams events of that shape.
void endpoint(const upstream_request& req, upstream_conn& c) {
    const std::string& b = req.body;
    auto says = [&](const char* word) { return b.find(word) != std::string::npos; };
    if (says("as-text")) {
        c.send(http_answer(200, "text/plain; charset=utf-8", "plain words, ünïcode"));
    } else if (says("as-audio")) {
        c.send(http_answer(200, "audio/wav", speech, "Content-Disposition: attachment; filename=\"speech.wav\"\r\n"));
    } else if (says("as-stream")) {
        c.chunked_head(200, "text/event-stream");
        for (const char* piece : {"Str", "eam", "ed ", "reply"}) {
            c.chunk(std::string("event: generating\ndata: {\"data\":[\"") + piece + "\"]}\n\n");
            c.pause(std::chrono::milliseconds(150)); // apart, so the broker does not merge them
        }
        c.chunk("event: complete\ndata: {\"msg\":\"done\"}\n\n");
        c.end();
    } else if (says("as-error")) {
        c.send(http_answer(422, "application/json", R"({"detail":"prompt must not be empty"})"));
    } else {
        c.send(http_answer(200, "application/json", R"({"data":["the answer",0.93],"duration":0.01})"));
    }
}

std::string submit_with_file(http_client& alice, const std::string& prompt, const std::string& bytes) {
    multipart_body body;
    body.field("prompt", prompt);
    body.field("params", R"({"voice":"alto","speed":1.5})");
    body.file("file", "input.wav", "audio/wav", bytes);
    const std::string ctype = body.content_type();
    auto r = alice.post("/api/spaces/relay/requests", body.finish(), ctype);
    INFO(r.describe());
    REQUIRE(r.status == 202);
    return r.json().str("/request_id");
}

} // namespace

TEST_CASE("the http kind posts JSON and makes JSON, text, an audio file and an SSE stream the result",
          "[e2e][upstream]") {
    test_upstream up(endpoint);
    relay_options o;
    o.features = "prompt,file";
    o.agent_args = {"--capacity", "2"};
    relay r(up.url("/run/predict?fn=1#field=data.0&header_env=X-Api-Key:ENDPOINT_KEY"), [&] {
        o.agent_env = {"ENDPOINT_KEY=secret-123"};
        return o;
    }());
    CHECK(r.agent.logged("served by the HTTP endpoint http://127.0.0.1:" + std::to_string(up.port()) + "/run/predict?fn=1"));
    auto alice = r.t.signed_in("alice");

    SECTION("JSON, with the input file as base64") {
        const std::string id = submit_with_file(alice, "as-json please", speech);
        REQUIRE(r.t.wait_status(alice, id, "completed", 20s));
        auto st = r.t.request_status(alice, id);
        INFO(st.text());
        CHECK(tether::e2e::output_of(st) == "the answer");
        auto reqs = up.requests();
        REQUIRE(!reqs.empty());
        const auto& got = reqs.back();
        CHECK(got.method == "POST");
        CHECK(got.target == "/run/predict?fn=1");
        CHECK(got.header("x-api-key") == "secret-123");
        CHECK(got.header("content-type") == "application/json");
        auto sent = json_doc::parse(got.body);
        CHECK(sent.str("/prompt") == "as-json please");
        CHECK(sent.str("/params/voice") == "alto");
        CHECK(sent.str("/space") == "relay");
        CHECK(sent.str("/request_id") == id);
        CHECK(sent.str("/files/0/field") == "file");
        CHECK(sent.str("/files/0/name") == "input.wav");
        CHECK(sent.str("/files/0/mime") == "audio/wav");
        CHECK(tether::base64_decode(sent.str("/files/0/data")) == std::optional<std::string>(speech));
    }
    SECTION("plain text") {
        const std::string id = r.t.submit(alice, "as-text", "relay");
        REQUIRE(r.t.wait_status(alice, id, "completed", 20s));
        CHECK(tether::e2e::output_of(r.t.request_status(alice, id)) == "plain words, ünïcode");
    }
    SECTION("an audio file, named as the upstream named it") {
        const std::string id = r.t.submit(alice, "as-audio", "relay");
        REQUIRE(r.t.wait_status(alice, id, "completed", 20s));
        auto st = r.t.request_status(alice, id);
        INFO(st.text());
        CHECK(st.text().find("speech.wav") != std::string::npos);
        CHECK(st.text().find("audio/wav") != std::string::npos);
        auto dl = alice.get("/api/requests/" + id + "/files/1");
        REQUIRE(dl.status == 200);
        CHECK(dl.header("content-type").find("audio/wav") == 0);
        CHECK(dl.body == speech);
    }
    SECTION("an SSE stream, each event's field a delta") {
        const std::string id = r.t.submit(alice, "as-stream", "relay");
        sse_reader events(alice, "/api/requests/" + id + "/events");
        auto done = events.wait_for("completed", 20s);
        INFO(events.seen_names() << "\nagent log:\n" << r.agent.log());
        REQUIRE(done);
        std::string streamed;
        int deltas = 0;
        for (const auto& e : events.seen())
            if (e.event == "delta") {
                streamed += e.json().str("/text");
                ++deltas;
            }
        CHECK(streamed == "Streamed reply");
        CHECK(deltas >= 2);
        CHECK(tether::e2e::output_of(r.t.request_status(alice, id)) == "Streamed reply");
    }
    SECTION("an error status") {
        const std::string id = r.t.submit(alice, "as-error", "relay");
        REQUIRE(r.t.wait_status(alice, id, "failed", 20s));
        auto st = r.t.request_status(alice, id);
        INFO(st.text());
        CHECK(st.str("/error/code") == "bad_input");
        CHECK(st.text().find("prompt must not be empty") != std::string::npos);
    }
}

TEST_CASE("the http kind with #body=multipart sends the prompt, params and files as form parts", "[e2e][upstream]") {
    test_upstream up(endpoint);
    relay_options o;
    o.features = "prompt,file";
    relay r(up.url("/upload#body=multipart"), o);
    auto alice = r.t.signed_in("alice");
    const std::string id = submit_with_file(alice, "as-json multipart", speech);
    REQUIRE(r.t.wait_status(alice, id, "completed", 20s));
    // No field set: the whole JSON answer is the output.
    auto st = r.t.request_status(alice, id);
    CHECK(json_doc::parse(tether::e2e::output_of(st)).str("/data/0") == "the answer");
    auto reqs = up.requests();
    REQUIRE(!reqs.empty());
    const auto& got = reqs.back();
    CHECK(got.header("content-type").find("multipart/form-data; boundary=") == 0);
    CHECK(got.body.find("Content-Disposition: form-data; name=\"prompt\"\r\n\r\nas-json multipart\r\n") != std::string::npos);
    CHECK(got.body.find(R"("voice":"alto")") != std::string::npos);
    CHECK(got.body.find("name=\"file\"; filename=\"input.wav\"\r\nContent-Type: audio/wav\r\n\r\n" + speech + "\r\n") !=
          std::string::npos);
}

namespace {

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// What ffprobe (independent of the agent) says of `bytes`: "codec_name,sample_rate,channels,duration".
std::string probe(const temp_dir& dir, const std::string& bytes) {
    const std::string in = dir.path() + "/probe.bin", out = dir.path() + "/probe.txt";
    std::ofstream(in, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    const std::string cmd = "ffprobe -v error -select_streams a:0 -show_entries stream=codec_name,sample_rate,channels:format=duration "
                            "-of csv=p=0:nk=1 " + in + " > " + out;
    if (std::system(cmd.c_str()) != 0) return "(ffprobe failed)";
    std::string text = read_bytes(out);
    for (char& c : text)
        if (c == '\n') c = ',';
    while (!text.empty() && text.back() == ',') text.pop_back();
    return text;
}

// Seconds of audio the ffmpeg command decodes from `bytes` (gapless trimming
// honoured, unlike a container's duration estimate); -1 when it fails.
double decoded_seconds(const temp_dir& dir, const std::string& bytes) {
    const std::string in = dir.path() + "/decode.bin", out = dir.path() + "/decode.raw";
    std::ofstream(in, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (std::system(("ffmpeg -nostdin -loglevel error -y -i " + in + " -f s16le -ac 1 -ar 16000 " + out).c_str()) != 0) return -1;
    return static_cast<double>(read_bytes(out).size()) / (2 * 16000);
}

std::string submit_audio(http_client& alice, const std::string& prompt, const std::string& params, const std::string& name,
                         const std::string& mime, const std::string& bytes) {
    multipart_body body;
    body.field("prompt", prompt);
    body.field("params", params);
    if (!bytes.empty()) body.file("file", name, mime, bytes);
    const std::string ctype = body.content_type();
    auto r = alice.post("/api/spaces/relay/requests", body.finish(), ctype);
    INFO(r.describe());
    REQUIRE(r.status == 202);
    return r.json().str("/request_id");
}

} // namespace

TEST_CASE("the http kind converts an audio answer to the response_format asked for, and inputs to WAV with #audio=wav",
          "[e2e][upstream][media]") {
    temp_dir dir;
    test_upstream up(endpoint);
    relay_options o;
    o.features = "prompt,file";
    relay r(up.url("/tts#audio=wav:16000"), o);
    auto alice = r.t.signed_in("alice");

    SECTION("a WAV answer asked for as MP3 and as Opus; WAV asked for stays the upstream's bytes") {
        for (const auto& [format, codec, mime, name] :
             {std::tuple{"mp3", "mp3", "audio/mpeg", "speech.mp3"}, std::tuple{"opus", "opus", "audio/ogg", "speech.opus"},
              std::tuple{"wav", "pcm_s16le", "audio/wav", "speech.wav"}}) {
            INFO(format);
            const std::string id = submit_audio(alice, "as-audio", std::string(R"({"response_format":")") + format + "\"}", "", "", "");
            REQUIRE(r.t.wait_status(alice, id, "completed", 20s));
            auto st = r.t.request_status(alice, id);
            INFO(st.text());
            CHECK(st.text().find(name) != std::string::npos);
            auto dl = alice.get("/api/requests/" + id + "/files/1");
            REQUIRE(dl.status == 200);
            CHECK(dl.header("content-type").find(mime) == 0);
            const std::string p = probe(dir, dl.body);
            INFO(p);
            // The codec, one channel, and the upstream's 0.5 s kept (within a codec frame).
            CHECK(p.rfind(std::string(codec) + ",", 0) == 0);
            CHECK(p.find(",1,") != std::string::npos);
            CHECK(decoded_seconds(dir, dl.body) == Approx(0.5).margin(0.04));
            if (std::string(format) == "wav") {
                CHECK(dl.body == speech);
                CHECK(st.text().find("converted from") == std::string::npos);
            } else {
                CHECK(st.text().find("converted from pcm in wav to mono") != std::string::npos);
            }
        }
    }
    SECTION("an MP3 upload reaches the upstream as 16-bit mono WAV at 16 kHz") {
        const std::string mp3 = dir.path() + "/in.mp3";
        REQUIRE(std::system(("ffmpeg -nostdin -loglevel error -y -f lavfi -i sine=frequency=440:duration=1.5:sample_rate=44100 "
                             "-ac 2 -c:a libmp3lame -b:a 96k " + mp3).c_str()) == 0);
        const std::string id = submit_audio(alice, "as-json", "{}", "voice.mp3", "audio/mpeg", read_bytes(mp3));
        REQUIRE(r.t.wait_status(alice, id, "completed", 20s));
        auto reqs = up.requests();
        REQUIRE(!reqs.empty());
        auto sent = json_doc::parse(reqs.back().body);
        CHECK(sent.str("/files/0/name") == "voice.wav");
        CHECK(sent.str("/files/0/mime") == "audio/wav");
        const auto wav = tether::base64_decode(sent.str("/files/0/data"));
        REQUIRE(wav);
        const std::string p = probe(dir, *wav);
        INFO(p);
        CHECK(p.rfind("pcm_s16le,16000,1,", 0) == 0);
        CHECK(decoded_seconds(dir, *wav) == Approx(1.5).margin(0.04));
    }
    SECTION("an upload that is not audio, sent as audio, is refused before the upstream is called") {
        const auto before = up.requests().size();
        const std::string id = submit_audio(alice, "as-json", "{}", "voice.mp3", "audio/mpeg", "this is not an mp3 at all");
        REQUIRE(r.t.wait_status(alice, id, "failed", 20s));
        auto st = r.t.request_status(alice, id);
        INFO(st.text());
        CHECK(st.str("/error/code") == "bad_input");
        CHECK(st.text().find("voice.mp3 cannot be sent as WAV") != std::string::npos);
        CHECK(up.requests().size() == before);
    }
}

namespace {

// A Gradio app's HTTP API as Gradio 5 documents it: POST /gradio_api/upload
// (multipart "files") -> the server paths; POST /gradio_api/call/NAME
// {"data":[…]} -> {"event_id"}; GET /gradio_api/call/NAME/ID -> events
// (generating with the outputs so far, complete, error, heartbeat);
// GET /gradio_api/file=PATH -> a file.
struct gradio_app {
    std::mutex mutex;
    std::map<std::string, std::string> calls; // event id -> the call's body
    std::string uploaded;                      // the last upload's body
    int next = 0;
    std::uint16_t port = 0;

    void handle(const upstream_request& req, upstream_conn& c) {
        if (req.method == "POST" && req.target == "/gradio_api/upload") {
            std::lock_guard lock(mutex);
            uploaded = req.body;
            c.send(http_answer(200, "application/json", R"(["/tmp/gradio/0a1b/input.wav"])"));
        } else if (req.method == "POST" && req.target == "/gradio_api/call/predict") {
            std::lock_guard lock(mutex);
            const std::string id = "ev" + std::to_string(++next);
            calls[id] = req.body;
            c.send(http_answer(200, "application/json", R"({"event_id":")" + id + "\"}"));
        } else if (req.method == "GET" && req.target.starts_with("/gradio_api/call/predict/")) {
            std::string body;
            {
                std::lock_guard lock(mutex);
                body = calls[req.target.substr(req.target.rfind('/') + 1)];
            }
            c.chunked_head(200, "text/event-stream; charset=utf-8");
            if (body.find("gr-file") != std::string::npos) {
                const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/gradio_api/file=/tmp/gradio/9f/out.wav";
                c.chunk("event: complete\ndata: [{\"path\":\"/tmp/gradio/9f/out.wav\",\"url\":\"" + url +
                        "\",\"orig_name\":\"out.wav\",\"mime_type\":null,\"meta\":{\"_type\":\"gradio.FileData\"}}]\n\n");
            } else if (body.find("gr-error") != std::string::npos) {
                c.chunk("event: error\ndata: \"the model crashed\"\n\n");
            } else {
                for (const char* so_far : {"Hel", "Hello th", "Hello there"}) {
                    c.chunk(std::string("event: generating\ndata: [\"") + so_far + "\"]\n\n");
                    c.chunk("event: heartbeat\ndata: null\n\n");
                    c.pause(std::chrono::milliseconds(150)); // apart, so the broker does not merge them
                }
                c.chunk("event: complete\ndata: [\"Hello there\"]\n\n");
            }
            c.end();
        } else if (req.method == "GET" && req.target == "/gradio_api/file=/tmp/gradio/9f/out.wav") {
            c.send(http_answer(200, "audio/wav", speech));
        } else {
            c.send(http_answer(404, "application/json", R"({"detail":"Not Found"})"));
        }
    }
};

} // namespace

TEST_CASE("the gradio kind uploads files, calls the endpoint and reads its event stream", "[e2e][upstream]") {
    gradio_app app;
    test_upstream up([&](const upstream_request& req, upstream_conn& c) { app.handle(req, c); });
    app.port = up.port();
    relay_options o;
    o.features = "prompt,file";
    o.agent_env = {"HF_TOKEN=hf_abc"};
    relay r("gradio+" + up.url("/gradio_api/call/predict#inputs=prompt,file,param:voice&key_env=HF_TOKEN"), o);
    CHECK(r.agent.logged("served by the Gradio endpoint"));
    auto alice = r.t.signed_in("alice");

    SECTION("text, streamed from the generating events, with a file and a param as inputs") {
        const std::string id = submit_with_file(alice, "gr-text", speech);
        sse_reader events(alice, "/api/requests/" + id + "/events");
        auto done = events.wait_for("completed", 20s);
        INFO(events.seen_names() << "\nagent log:\n" << r.agent.log());
        REQUIRE(done);
        std::vector<std::string> deltas;
        for (const auto& e : events.seen())
            if (e.event == "delta") deltas.push_back(e.json().str("/text"));
        std::string streamed;
        for (const auto& d : deltas) streamed += d;
        CHECK(streamed == "Hello there");
        CHECK(deltas.size() >= 2);
        CHECK(tether::e2e::output_of(r.t.request_status(alice, id)) == "Hello there");
        // The call: the prompt, the uploaded file's FileData, the param; the key as a bearer.
        std::lock_guard lock(app.mutex);
        REQUIRE(app.calls.size() == 1);
        auto call = json_doc::parse(app.calls.begin()->second);
        CHECK(call.str("/data/0") == "gr-text");
        CHECK(call.str("/data/1/path") == "/tmp/gradio/0a1b/input.wav");
        CHECK(call.str("/data/1/meta/_type") == "gradio.FileData");
        CHECK(call.str("/data/1/orig_name") == "input.wav");
        CHECK(call.str("/data/2") == "alto");
        CHECK(app.uploaded.find("name=\"files\"; filename=\"input.wav\"") != std::string::npos);
        CHECK(app.uploaded.find(speech) != std::string::npos);
        for (const auto& req : up.requests()) CHECK(req.header("authorization") == "Bearer hf_abc");
    }
    SECTION("a file output is fetched from the app") {
        const std::string id = r.t.submit(alice, "gr-file", "relay");
        REQUIRE(r.t.wait_status(alice, id, "completed", 20s));
        auto dl = alice.get("/api/requests/" + id + "/files/1");
        INFO(r.t.request_status(alice, id).text());
        REQUIRE(dl.status == 200);
        CHECK(dl.body == speech);
        CHECK(r.t.request_status(alice, id).text().find("out.wav") != std::string::npos);
        // A prompt-only request sends null for the missing file and param.
        std::lock_guard lock(app.mutex);
        auto call = json_doc::parse(app.calls.begin()->second);
        CHECK(call.has("/data/1"));
        CHECK_FALSE(call.string("/data/1"));
    }
    SECTION("an error event fails the request with the app's message") {
        const std::string id = r.t.submit(alice, "gr-error", "relay");
        REQUIRE(r.t.wait_status(alice, id, "failed", 20s));
        auto st = r.t.request_status(alice, id);
        CHECK(st.str("/error/code") == "upstream_error");
        CHECK(st.text().find("the model crashed") != std::string::npos);
    }
}

// tether-agent --backend torch end to end: the real broker and agent
// processes, TorchScript modules with known behaviour (torch_fixtures) and the
// project's demo models; every task through HTTP, SSE and file download, bad
// input answered while the agent keeps serving, and a lying sidecar that
// stops the agent at start.

#include "e2e/agent_process.hpp"
#include "integration/itest_broker.hpp"
#include "testkit/multipart_body.hpp"
#include "torch_fixtures/fixtures.hpp"

#include "backends/model/image_codec.hpp"
#include "backends/model/media.hpp"
#include "backends/model/wav.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

using namespace tether::itest;
using tether::e2e::agent_process;
namespace fx = tether::torch_fixtures;

namespace {

// A broker with spaces Chat (prompt), Sound (audio), Picture (file), Numbers
// (prompt) and an agent serving them with the given models.
struct torch_setup {
    itest_broker t;
    tether::testkit::temp_dir models{"tether-torch-e2e-"};
    agent_process agent;

    static broker_setup spaces() {
        broker_setup s;
        s.more_spaces = {{"Chat", {}},
                         {"Sound", {"audio", 120, 1000, ""}},
                         {"Picture", {"file", 120, 1000, ""}},
                         {"Numbers", {}}};
        return s;
    }

    torch_setup() : t(spaces()) {}

    void start(const std::vector<std::pair<std::string, std::string>>& space_models,
               std::vector<std::string> extra = {}) {
        std::vector<std::string> spaces;
        std::vector<std::string> args{"--backend", "torch", "--device", "cpu"};
        for (const auto& [space, pt] : space_models) {
            spaces.push_back(space + "=" + t.tokens.at(space));
            args.push_back("--model");
            args.push_back(space + "=" + pt);
        }
        args.insert(args.end(), extra.begin(), extra.end());
        agent.start(t.broker.ws_url(), spaces, args);
    }
};

std::string wav_of(const std::vector<float>& samples, std::uint32_t rate) {
    return tether::agent::encode_wav_pcm16(samples, rate);
}

std::string submit_file(http_client& c, const std::string& space, const std::string& field, const std::string& name,
                        const std::string& mime, const std::string& bytes) {
    multipart_body body;
    body.file(field, name, mime, bytes);
    const std::string ctype = body.content_type();
    auto r = c.post("/api/spaces/" + space + "/requests", body.finish(), ctype);
    INFO(r.describe());
    REQUIRE(r.status == 202);
    return r.json().str("/request_id");
}

std::string result_path(const json_doc& d, const std::string& member) {
    return d.has("/result/" + member) ? "/result/" + member : "/" + member;
}

} // namespace

TEST_CASE("a language model streams its tokens to an SSE watcher and the result matches", "[torch-e2e]") {
    torch_setup s;
    auto alice = s.t.signed_in("alice");
    // Submitted and watched before the agent exists, so the watcher sees every
    // delta live (a finished request's replay carries only the result).
    auto r = alice.post_json("/api/spaces/Chat/requests", R"({"prompt":"a","params":{"max_tokens":20}})");
    REQUIRE(r.status == 202);
    const std::string id = r.json().str("/request_id");
    sse_reader events(alice, "/api/requests/" + id + "/events");
    REQUIRE(events.wait_for("queued", 10s));
    s.start({{"Chat", fx::next_byte_lm(s.models.path())}});
    auto done = events.wait_for("completed", 30s);
    INFO("events: " << events.seen_names() << "\nagent log:\n" << s.agent.log());
    REQUIRE(done);
    std::string streamed;
    for (const auto& e : events.seen())
        if (e.event == "delta") streamed += e.json().str("/text");
    CHECK(streamed == "bcdefghijklmnopqrstu");
    auto status = s.t.request_status(alice, id);
    CHECK(status.str(result_path(status, "output")) == "bcdefghijklmnopqrstu");
    CHECK(status.integer(result_path(status, "tokens")) == 20);
}

TEST_CASE("the project's demo language model generates text through the broker", "[torch-e2e]") {
    const std::string pt = std::string(TETHER_SOURCE_DIR) + "/models/tiny-lm.pt";
    REQUIRE(std::filesystem::exists(pt));
    torch_setup s;
    s.start({{"Chat", pt}});
    INFO("agent log:\n" << s.agent.log());
    REQUIRE(s.agent.wait_registered(60s));
    auto alice = s.t.signed_in("alice");
    auto r = alice.post_json("/api/spaces/Chat/requests",
                             R"({"prompt":"And God said","params":{"max_tokens":40,"seed":7}})");
    REQUIRE(r.status == 202);
    const std::string id = r.json().str("/request_id");
    REQUIRE(s.t.wait_status(alice, id, "completed", 60s));
    auto status = s.t.request_status(alice, id);
    CHECK(status.integer(result_path(status, "tokens")) == 40);
    CHECK_FALSE(status.str(result_path(status, "output")).empty());
}

TEST_CASE("classification, audio, image and tensor requests come back through the broker", "[torch-e2e]") {
    torch_setup s;
    s.start({{"Chat", fx::ab_text_classifier(s.models.path())},
             {"Sound", fx::half_gain(s.models.path())},
             {"Picture", fx::invert_upscale(s.models.path())},
             {"Numbers", fx::sum_max(s.models.path())}});
    INFO("agent log:\n" << s.agent.log());
    REQUIRE(s.agent.wait_registered(30s));
    auto alice = s.t.signed_in("alice");

    SECTION("text classification") {
        const std::string id = s.t.submit(alice, "bbba", "Chat");
        REQUIRE(s.t.wait_status(alice, id, "completed", 20s));
        auto st = s.t.request_status(alice, id);
        INFO(st.text());
        CHECK(st.str(result_path(st, "output")) == "b");
        CHECK(st.text().find("\"confidence\"") != std::string::npos);
        CHECK(st.str(result_path(st, "labels") + "/1/label") == "a");
    }
    SECTION("audio in, a WAV file out") {
        std::vector<float> in(8000);
        for (std::size_t i = 0; i < in.size(); ++i)
            in[i] = static_cast<float>(0.6 * std::sin(static_cast<double>(i) * 0.05));
        const std::string id = submit_file(alice, "Sound", "audio", "tone.wav", "audio/wav", wav_of(in, 8000));
        REQUIRE(s.t.wait_status(alice, id, "completed", 20s));
        auto dl = alice.get("/api/requests/" + id + "/files/1");
        REQUIRE(dl.status == 200);
        auto out = tether::agent::decode_wav(dl.body, 1 << 20);
        REQUIRE(out.clip);
        REQUIRE(out.clip->samples.size() == in.size());
        CHECK(out.clip->samples[100] == Approx(in[100] * 0.5).margin(1e-3));
    }
    SECTION("an image in, a PNG twice the size out") {
        tether::agent::image_rgb img{4, 3, std::vector<std::uint8_t>(4 * 3 * 3, 200)};
        const std::string id =
            submit_file(alice, "Picture", "file", "grey.png", "image/png", tether::agent::encode_png(img));
        REQUIRE(s.t.wait_status(alice, id, "completed", 20s));
        auto dl = alice.get("/api/requests/" + id + "/files/1");
        REQUIRE(dl.status == 200);
        auto out = tether::agent::decode_image(dl.body, {});
        REQUIRE(out.image);
        CHECK(out.image->width == 8);
        CHECK(out.image->height == 6);
        CHECK(out.image->pixels[0] == 55);
    }
    SECTION("a JSON array in, a JSON array out") {
        const std::string id = s.t.submit(alice, "[2, 5, -1]", "Numbers");
        REQUIRE(s.t.wait_status(alice, id, "completed", 20s));
        auto st = s.t.request_status(alice, id);
        CHECK(st.str(result_path(st, "output")) == "[6,5]");
    }
    SECTION("bad input fails with bad_input and the agent serves the next request") {
        const std::string bad = submit_file(alice, "Sound", "audio", "notes.txt", "text/plain", "not audio");
        REQUIRE(s.t.wait_status(alice, bad, "failed", 20s));
        auto st = s.t.request_status(alice, bad);
        CHECK(st.str("/error/code") == "bad_input");
        CHECK(st.str("/error/message").find("notes.txt") != std::string::npos);

        const std::string wrong = s.t.submit(alice, "[[1, 2]]", "Numbers");
        REQUIRE(s.t.wait_status(alice, wrong, "failed", 20s));
        CHECK(s.t.request_status(alice, wrong).str("/error/code") == "bad_input");

        const std::string good = s.t.submit(alice, "[1]", "Numbers");
        REQUIRE(s.t.wait_status(alice, good, "completed", 20s));
        CHECK(s.agent.running());
    }
}

TEST_CASE("a video through an image model comes back as MP4 with its frames, size, length and sound", "[torch-e2e][media]") {
    // The broker's Picture space takes files; its model here is the 2x
    // inverting upscaler with a video sidecar.
    torch_setup s;
    const auto movie = fx::save_model(s.models.path(), "invert-video", R"(
def forward(self, x: Tensor) -> Tensor:
    return (1.0 - x).repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
)",
                                      R"({"task":"video","input":{"batch":4},"output":{"scale":2},
                                          "limits":{"max_width":64,"max_height":48,"max_seconds":5}})");
    s.start({{"Picture", movie}, {"Sound", fx::half_gain(s.models.path())}});
    INFO("agent log:\n" << s.agent.log());
    REQUIRE(s.agent.wait_registered(30s));
    auto alice = s.t.signed_in("alice");
    const std::string dir = s.models.path();
    // 1.5 s at 10 fps, 64x48, with a 440 Hz tone in AAC: made by Debian's ffmpeg.
    const std::string mp4 = dir + "/in.mp4";
    REQUIRE(std::system(("ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc=size=64x48:rate=10 -f lavfi -i "
                         "sine=frequency=440:sample_rate=44100 -t 1.5 -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest " +
                         mp4).c_str()) == 0);
    std::ifstream in(mp4, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};

    SECTION("frames, size, duration and the audio track") {
        const std::string id = submit_file(alice, "Picture", "file", "clip.mp4", "video/mp4", bytes);
        sse_reader events(alice, "/api/requests/" + id + "/events");
        REQUIRE(s.t.wait_status(alice, id, "completed", 60s));
        auto st = s.t.request_status(alice, id);
        INFO(st.text());
        CHECK(st.integer(result_path(st, "frames")) == 15);
        CHECK(st.integer(result_path(st, "width")) == 128);
        CHECK(st.integer(result_path(st, "height")) == 96);
        CHECK(st.str(result_path(st, "audio")) == "copied (aac)");
        auto dl = alice.get("/api/requests/" + id + "/files/1");
        REQUIRE(dl.status == 200);
        const std::string out = dir + "/out.mp4";
        std::ofstream(out, std::ios::binary) << dl.body;
        // ffprobe, independent of the agent, reads what it wrote.
        const std::string probe = dir + "/probe.txt";
        REQUIRE(std::system(("ffprobe -v error -count_frames -show_entries stream=codec_type,codec_name,width,height,nb_read_frames "
                             "-show_entries format=duration -of default=noprint_wrappers=1 " + out + " > " + probe).c_str()) == 0);
        std::ifstream p(probe);
        const std::string facts{std::istreambuf_iterator<char>(p), std::istreambuf_iterator<char>()};
        INFO(facts);
        CHECK(facts.find("codec_name=h264") != std::string::npos);
        CHECK(facts.find("width=128") != std::string::npos);
        CHECK(facts.find("height=96") != std::string::npos);
        CHECK(facts.find("nb_read_frames=15") != std::string::npos);
        CHECK(facts.find("codec_type=audio") != std::string::npos);
        const auto at = facts.find("duration=");
        REQUIRE(at != std::string::npos);
        CHECK(std::stod(facts.substr(at + 9)) == Approx(1.5).margin(0.1));
        // Progress came as deltas: frames done of the total, batch by batch.
        std::string progress;
        for (const auto& e : events.seen())
            if (e.event == "delta") progress += e.json().str("/text");
        CHECK(progress.find("frames 4/15") != std::string::npos);
        CHECK(progress.find("frames 15/15") != std::string::npos);
    }
    SECTION("a video over the limits or not a video is bad input") {
        const std::string big = dir + "/big.mp4";
        REQUIRE(std::system(("ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc=size=160x120:rate=5 -t 1 -c:v libx264 "
                             "-pix_fmt yuv420p " + big).c_str()) == 0);
        std::ifstream b(big, std::ios::binary);
        const std::string large{std::istreambuf_iterator<char>(b), std::istreambuf_iterator<char>()};
        const std::string over = submit_file(alice, "Picture", "file", "big.mp4", "video/mp4", large);
        REQUIRE(s.t.wait_status(alice, over, "failed", 30s));
        auto st = s.t.request_status(alice, over);
        CHECK(st.str("/error/code") == "bad_input");
        CHECK(st.str("/error/message") == "big.mp4: its frames are 160x120, over this model's limit of 64x48");
        const std::string cut = submit_file(alice, "Picture", "file", "cut.mp4", "video/mp4", bytes.substr(0, bytes.size() / 3));
        REQUIRE(s.t.wait_status(alice, cut, "failed", 30s));
        CHECK(s.t.request_status(alice, cut).str("/error/code") == "bad_input");
    }
    SECTION("an audio model answers in MP3 when asked") {
        std::vector<float> tone(8000);
        for (std::size_t i = 0; i < tone.size(); ++i) tone[i] = static_cast<float>(0.6 * std::sin(static_cast<double>(i) * 0.05));
        multipart_body body;
        body.field("params", R"({"response_format":"mp3"})");
        body.file("audio", "tone.wav", "audio/wav", wav_of(tone, 8000));
        const std::string ctype = body.content_type();
        auto r = alice.post("/api/spaces/Sound/requests", body.finish(), ctype);
        REQUIRE(r.status == 202);
        const std::string id = r.json().str("/request_id");
        REQUIRE(s.t.wait_status(alice, id, "completed", 30s));
        auto dl = alice.get("/api/requests/" + id + "/files/1");
        REQUIRE(dl.status == 200);
        tether::agent::media_limits l;
        const auto back = tether::agent::decode_audio(dl.body, 8000, l);
        INFO(back.error);
        REQUIRE(back.clip);
        CHECK(back.container == "mp3");
        CHECK(static_cast<double>(back.clip->samples.size()) == Approx(8000).margin(200));
    }
}

TEST_CASE("an agent whose model does not match its sidecar exits 2 naming the model", "[torch-e2e]") {
    torch_setup s;
    auto liar = fx::save_model(s.models.path(), "liar",
                               "def forward(self, x: Tensor) -> Tensor:\n    return torch.zeros(x.size(0), 7)\n",
                               R"({"task":"classification","input":{"kind":"text","length":8},
                                   "output":{"labels":["yes","no"]}})");
    s.start({{"Chat", liar}});
    auto exit = s.agent.wait_exit(30s);
    REQUIRE(exit);
    CHECK(exit->code == 2);
    INFO("agent log:\n" << s.agent.log());
    CHECK(s.agent.logged("model liar (" + liar + ")"));
    CHECK(s.agent.logged("returned [2, 7]"));
}

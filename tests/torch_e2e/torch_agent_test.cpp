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
#include "backends/model/wav.hpp"

#include <cmath>
#include <filesystem>

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

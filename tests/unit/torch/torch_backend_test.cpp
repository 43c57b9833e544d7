// The torch backend against real TorchScript modules with known behaviour
// (tests/torch_fixtures): every task's result, streaming and cancellation,
// bad input answered with bad_input while the backend keeps serving, lying
// sidecars refused at load with a message naming the mismatch, and batching.

#include "backends/model/image_codec.hpp"
#include "backends/model/wav.hpp"
#include "backends/torch/torch_backend.hpp"
#include "torch_fixtures/fixtures.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>
#include <torch/cuda.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace tether::agent;
namespace fx = tether::torch_fixtures;
using namespace std::chrono_literals;

namespace {

struct scratch_dir {
    std::string path;
    scratch_dir() {
        std::string templ = (std::filesystem::temp_directory_path() / "tether-torch-XXXXXX").string();
        REQUIRE(::mkdtemp(templ.data()) != nullptr);
        path = templ;
    }
    ~scratch_dir() { std::filesystem::remove_all(path); }
};

struct recording_sink final : result_sink {
    std::vector<std::string> deltas;
    std::vector<output_file> files;
    std::optional<completion> done;
    std::string fail_code, fail_message;
    cancellation_token* cancel_on_first_delta = nullptr;
    bool processing_seen = false;

    void processing() override { processing_seen = true; }
    void delta(std::string text) override {
        deltas.push_back(std::move(text));
        if (cancel_on_first_delta) cancel_on_first_delta->cancel();
    }
    void file(output_file f) override { files.push_back(std::move(f)); }
    void completed(completion c) override { done = std::move(c); }
    void failed(std::string code, std::string message) override {
        fail_code = std::move(code);
        fail_message = std::move(message);
    }
    std::string streamed() const {
        std::string s;
        for (const auto& d : deltas)
            s += d;
        return s;
    }
};

torch_backend serving(const std::string& space, const std::string& pt, std::uint32_t capacity = 1,
                      std::chrono::milliseconds wait = 5ms) {
    torch_options o;
    o.device = "cpu";
    o.models[space] = pt;
    o.capacity[space] = capacity;
    o.max_batch = 8;
    o.batch_wait = wait;
    return torch_backend(o);
}

job prompt_job(const std::string& space, std::string prompt, std::string params = "{}") {
    job j;
    j.request_id = "00000000-0000-4000-8000-000000000001";
    j.space = space;
    j.prompt = std::move(prompt);
    j.params_json = std::move(params);
    return j;
}

job file_job(const std::string& space, std::string name, std::string mime, std::string bytes) {
    job j = prompt_job(space, "");
    input_file f;
    f.field = "file";
    f.name = std::move(name);
    f.mime = std::move(mime);
    f.size = bytes.size();
    f.bytes = std::move(bytes);
    j.files.push_back(std::move(f));
    return j;
}

recording_sink run(torch_backend& be, const job& j) {
    cancellation_token cancel;
    recording_sink sink;
    be.run(j, cancel, sink);
    return sink;
}

std::string load_error(const std::string& pt) {
    try {
        serving("S", pt);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "(loaded without error)";
}

std::vector<float> sine(std::size_t n, double amplitude, double rate, double hz = 440) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = static_cast<float>(amplitude * std::sin(2 * M_PI * hz * static_cast<double>(i) / rate));
    return v;
}

image_rgb solid(std::uint32_t w, std::uint32_t h, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    image_rgb img{w, h, {}};
    for (std::uint32_t i = 0; i < w * h; ++i)
        img.pixels.insert(img.pixels.end(), {r, g, b});
    return img;
}

simdjson::dom::element parse_extra(simdjson::dom::parser& p, const completion& c) { return p.parse(c.extra_json); }

} // namespace

TEST_CASE("text generation streams exactly the bytes the model predicts, up to max_tokens", "[torch]") {
    scratch_dir dir;
    auto be = serving("Chat", fx::next_byte_lm(dir.path));
    CHECK(be.models("Chat") == std::vector<std::string>{"next-byte"});
    auto sink = run(be, prompt_job("Chat", "a", R"({"max_tokens":5,"temperature":1.5,"top_k":3})"));
    INFO(sink.fail_message);
    REQUIRE(sink.done);
    CHECK(sink.processing_seen);
    CHECK(sink.done->output == "bcdef");
    CHECK(sink.streamed() == "bcdef");
    CHECK_FALSE(sink.deltas.empty());
    simdjson::dom::parser p;
    CHECK(int64_t(parse_extra(p, *sink.done)["tokens"]) == 5);
    CHECK(sink.done->inference_ms.has_value());

    // The sidecar's default max_tokens (8) applies when params have none.
    auto defaults = run(be, prompt_job("Chat", "0"));
    REQUIRE(defaults.done);
    CHECK(defaults.done->output == "12345678");
}

TEST_CASE("generation slides its window past the model's context", "[torch]") {
    scratch_dir dir;
    auto be = serving("Chat", fx::next_byte_lm(dir.path, "lm", 4));
    auto sink = run(be, prompt_job("Chat", "A", R"({"max_tokens":40})"));
    REQUIRE(sink.done);
    std::string expected;
    for (char c = 'B'; c < 'B' + 40; ++c)
        expected += c;
    CHECK(sink.done->output == expected);
}

TEST_CASE("a cancelled generation stops between tokens and reports no result", "[torch]") {
    scratch_dir dir;
    auto be = serving("Chat", fx::next_byte_lm(dir.path));
    cancellation_token cancel;
    recording_sink sink;
    sink.cancel_on_first_delta = &cancel;
    be.run(prompt_job("Chat", "a", R"({"max_tokens":600})"), cancel, sink);
    CHECK_FALSE(sink.done);
    CHECK(sink.fail_code.empty());
    CHECK(sink.streamed().size() <= 2);
}

TEST_CASE("text classification returns the top label, its confidence and the ranked labels", "[torch]") {
    scratch_dir dir;
    auto be = serving("Cls", fx::ab_text_classifier(dir.path));
    auto sink = run(be, prompt_job("Cls", "a cab, a bag"));
    REQUIRE(sink.done);
    // 'a' x4, 'b' x2 -> logits 12, 6, 1.5
    const double z = std::exp(12.0) + std::exp(6.0) + std::exp(1.5);
    CHECK(sink.done->output == "a");
    REQUIRE(sink.done->confidence);
    CHECK(*sink.done->confidence == Approx(std::exp(12.0) / z));
    simdjson::dom::parser p;
    auto labels = parse_extra(p, *sink.done)["labels"];
    CHECK(std::string_view(labels.at(0)["label"]) == "a");
    CHECK(std::string_view(labels.at(1)["label"]) == "b");
    CHECK(double(labels.at(1)["confidence"]) == Approx(std::exp(6.0) / z));
    CHECK(std::string_view(labels.at(2)["label"]) == "neither");

    auto none = run(be, prompt_job("Cls", "xyz"));
    REQUIRE(none.done);
    CHECK(none.done->output == "neither");
}

TEST_CASE("audio classification hears a WAV at another rate, resampled to the model's", "[torch]") {
    scratch_dir dir;
    auto be = serving("Ears", fx::loudness_classifier(dir.path));
    auto loud = run(be, file_job("Ears", "loud.wav", "audio/wav", encode_wav_pcm16(sine(1600, 0.9, 16000), 16000)));
    INFO(loud.fail_message);
    REQUIRE(loud.done);
    CHECK(loud.done->output == "loud");
    auto quiet = run(be, file_job("Ears", "quiet.wav", "audio/wav", encode_wav_pcm16(sine(800, 0.05, 8000), 8000)));
    REQUIRE(quiet.done);
    CHECK(quiet.done->output == "quiet");
}

TEST_CASE("image classification resizes the picture to the model's size", "[torch]") {
    scratch_dir dir;
    auto be = serving("Eyes", fx::colour_classifier(dir.path));
    auto blue = run(be, file_job("Eyes", "b.png", "image/png", encode_png(solid(30, 17, 10, 20, 240))));
    INFO(blue.fail_message);
    REQUIRE(blue.done);
    CHECK(blue.done->output == "blue");
    simdjson::dom::parser p;
    CHECK(parse_extra(p, *blue.done)["labels"].get_array().size() == 2); // "top": 2
}

TEST_CASE("the audio task returns the model's samples as a WAV file", "[torch]") {
    scratch_dir dir;
    auto be = serving("Fx", fx::half_gain(dir.path));
    const auto in = sine(4000, 0.8, 8000);
    auto sink = run(be, file_job("Fx", "voice.wav", "audio/wav", encode_wav_pcm16(in, 8000)));
    INFO(sink.fail_message);
    REQUIRE(sink.done);
    REQUIRE(sink.files.size() == 1);
    CHECK(sink.files[0].name == "voice-half-gain.wav");
    CHECK(sink.files[0].mime == "audio/wav");
    auto out = decode_wav(sink.files[0].bytes, 1 << 20);
    REQUIRE(out.clip);
    CHECK(out.clip->sample_rate == 8000);
    REQUIRE(out.clip->samples.size() == in.size());
    for (std::size_t i = 0; i < in.size(); i += 97)
        CHECK(out.clip->samples[i] == Approx(in[i] * 0.5).margin(2.0 / 32768));
    CHECK(sink.done->output == "0.50 s of audio at 8000 Hz");
}

TEST_CASE("the image task returns the model's picture as a PNG of the declared scale", "[torch]") {
    scratch_dir dir;
    auto be = serving("Up", fx::invert_upscale(dir.path));
    image_rgb in{3, 2, {0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 255, 255, 255}};
    auto sink = run(be, file_job("Up", "tiny.png", "image/png", encode_png(in)));
    INFO(sink.fail_message);
    REQUIRE(sink.done);
    REQUIRE(sink.files.size() == 1);
    CHECK(sink.files[0].mime == "image/png");
    auto out = decode_image(sink.files[0].bytes, image_limits{});
    REQUIRE(out.image);
    CHECK(out.image->width == 6);
    CHECK(out.image->height == 4);
    for (std::uint32_t y = 0; y < 4; ++y)
        for (std::uint32_t x = 0; x < 6; ++x)
            for (std::uint32_t c = 0; c < 3; ++c) {
                const auto src = in.pixels[((y / 2) * 3 + x / 2) * 3 + c];
                CHECK(out.image->pixels[(y * 6 + x) * 3 + c] == 255 - src);
            }
    CHECK(sink.done->output == "6x4 image");
}

TEST_CASE("the tensor task takes a JSON array and answers one", "[torch]") {
    scratch_dir dir;
    auto be = serving("T", fx::sum_max(dir.path));
    auto sink = run(be, prompt_job("T", "[1, 2, 3.5]"));
    INFO(sink.fail_message);
    REQUIRE(sink.done);
    CHECK(sink.done->output == "[6.5,3.5]");
    CHECK(sink.done->extra_json == R"({"shape":[2]})");
}

TEST_CASE("bad input fails with bad_input and a clear message, and the backend keeps serving", "[torch]") {
    scratch_dir dir;
    torch_options o;
    o.device = "cpu";
    o.models["Chat"] = fx::next_byte_lm(dir.path);
    o.models["Fx"] = fx::half_gain(dir.path);
    o.models["Up"] = fx::invert_upscale(dir.path);
    o.models["T"] = fx::sum_max(dir.path);
    torch_backend be(o);

    auto expect_bad = [&](const job& j, const std::string& words) {
        auto sink = run(be, j);
        CHECK_FALSE(sink.done);
        CHECK(sink.fail_code == "bad_input");
        INFO(sink.fail_message);
        CHECK(sink.fail_message.find(words) != std::string::npos);
    };
    expect_bad(prompt_job("Chat", ""), "prompt is empty");
    expect_bad(prompt_job("Chat", std::string(65, 'x')), "over this model's limit of 64 bytes");
    expect_bad(prompt_job("Chat", "a", R"({"max_tokens":0})"), "params.max_tokens");
    expect_bad(prompt_job("Chat", "a", R"({"temperature":-1})"), "params.temperature");
    expect_bad(prompt_job("Fx", "no file"), "has none");
    expect_bad(file_job("Fx", "song.mp3", "audio/mpeg", "ID3\x03 not a wav at all"), "song.mp3");
    expect_bad(file_job("Fx", "long.wav", "audio/wav", encode_wav_pcm16(std::vector<float>(8000 * 3), 8000)),
               "over this model's limit of 2 s");
    expect_bad(file_job("Up", "x.txt", "text/plain", "hello"), "not a PNG or JPEG");
    expect_bad(file_job("Up", "big.png", "image/png", encode_png(solid(65, 10, 1, 2, 3))), "over the limit");
    expect_bad(prompt_job("T", "[[1, 2], [3, 4]]"), "does not match");
    expect_bad(prompt_job("T", "[1, \"two\"]"), "prompt:");
    expect_bad(prompt_job("T", std::string(1001, '[') ), "prompt:");

    auto good = run(be, prompt_job("Chat", "a", R"({"max_tokens":2})"));
    REQUIRE(good.done);
    CHECK(good.done->output == "bc");
}

TEST_CASE("a module that misbehaves at run time fails the request with model_error", "[torch]") {
    scratch_dir dir;
    // Passes the dry run (items of 2 elements) but returns the input's own shape.
    auto pt = fx::save_model(dir.path, "echo", "def forward(self, x: Tensor) -> Tensor:\n    return x\n",
                             R"({"task":"tensor","input":{"shape":[-1]},"output":{"shape":[2]}})");
    auto be = serving("T", pt);
    auto sink = run(be, prompt_job("T", "[1, 2, 3]"));
    CHECK(sink.fail_code == "model_error");
    CHECK(sink.fail_message.find("[1, 3]") != std::string::npos);
    auto fine = run(be, prompt_job("T", "[1, 2]"));
    REQUIRE(fine.done);
    CHECK(fine.done->output == "[1,2]");
}

TEST_CASE("a model that does not match its sidecar is refused at load, naming the model and the mismatch", "[torch]") {
    scratch_dir dir;
    const std::string lm_sidecar = R"({"task":"text-generation","input":{"context":16},"output":{"vocab":256}})";
    auto narrow = fx::save_model(dir.path, "narrow",
                                 "def forward(self, x: Tensor) -> Tensor:\n"
                                 "    return torch.zeros(x.size(0), x.size(1), 100)\n",
                                 lm_sidecar);
    auto msg = load_error(narrow);
    CHECK(msg.find("model narrow (" + narrow + ")") != std::string::npos);
    CHECK(msg.find("returned [1, 16, 100]") != std::string::npos);

    auto two = fx::save_model(dir.path, "two-labels",
                              "def forward(self, x: Tensor) -> Tensor:\n    return torch.zeros(x.size(0), 2)\n",
                              R"({"task":"classification","input":{"kind":"text","length":8},
                                  "output":{"labels":["a","b","c"]}})");
    CHECK(load_error(two).find("[batch, 3] (one per label)") != std::string::npos);

    auto same_size = fx::save_model(dir.path, "no-scale", "def forward(self, x: Tensor) -> Tensor:\n    return x\n",
                                    R"({"task":"image","output":{"scale":2}})");
    CHECK(load_error(same_size).find("returned [2, 3, 32, 32]") != std::string::npos);

    auto throws = fx::save_model(dir.path, "throws",
                                 "def forward(self, x: Tensor) -> Tensor:\n    return x.view(7, 7)\n",
                                 R"({"task":"audio","input":{"sample_rate":100}})");
    CHECK(load_error(throws).find("the dry run with the declared input [1, 100] failed") != std::string::npos);

    auto ints = fx::save_model(dir.path, "ints",
                               "def forward(self, x: Tensor) -> Tensor:\n    return torch.zeros(x.size(0), 3).long()\n",
                               R"({"task":"classification","input":{"kind":"text","length":8},
                                   "output":{"labels":["a","b","c"]}})");
    CHECK(load_error(ints).find("needs floats") != std::string::npos);
}

TEST_CASE("missing files, a broken sidecar or a file that is not TorchScript stop the load", "[torch]") {
    scratch_dir dir;
    CHECK(load_error(dir.path + "/absent.pt").find("does not exist") != std::string::npos);

    auto pt = fx::sum_max(dir.path);
    std::filesystem::remove(dir.path + "/sum-max.json");
    CHECK(load_error(pt).find("sidecar " + dir.path + "/sum-max.json is missing") != std::string::npos);

    std::ofstream(dir.path + "/sum-max.json") << R"({"task":"tensor","input":{"shape":[-1]}})";
    CHECK(load_error(pt).find("output.shape: required") != std::string::npos);

    std::ofstream(dir.path + "/junk.pt") << "this is not a zip archive";
    std::ofstream(dir.path + "/junk.json") << R"({"task":"audio","input":{"sample_rate":100}})";
    CHECK(load_error(dir.path + "/junk.pt").find("not a TorchScript file") != std::string::npos);
}

TEST_CASE("asking for a CUDA device without CUDA is refused with advice", "[torch]") {
    if (torch::cuda::is_available()) return; // this machine can run it; nothing to refuse
    scratch_dir dir;
    torch_options o;
    o.device = "cuda:0";
    o.models["T"] = fx::sum_max(dir.path);
    try {
        torch_backend be(o);
        FAIL("loaded on a CUDA device that does not exist");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("use --device cpu or auto") != std::string::npos);
    }
}

TEST_CASE("concurrent requests of the same shape share one forward call, each getting its own answer", "[torch]") {
    scratch_dir dir;
    // A long wait: the batch can only start early by filling up, so the test
    // is deterministic; the 4 threads fill it.
    auto be = serving("T", fx::sum_max(dir.path), 4, 20s);
    std::vector<recording_sink> sinks(4);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&, i] {
            cancellation_token cancel;
            be.run(prompt_job("T", "[" + std::to_string(i) + ", 10]"), cancel, sinks[static_cast<std::size_t>(i)]);
        });
    for (auto& t : threads)
        t.join();
    for (int i = 0; i < 4; ++i) {
        REQUIRE(sinks[static_cast<std::size_t>(i)].done);
        CHECK(sinks[static_cast<std::size_t>(i)].done->output == "[" + std::to_string(i + 10) + ",10]");
    }
    auto stats = be.batch_stats("T");
    CHECK(stats.batches == 1);
    CHECK(stats.items == 4);
}

// Swin2SR folders run natively against the independent Python reference
// (tests/images/swin2sr_reference.py: its own float32 forward, windows one by
// one, the position bias pair by pair, the shifted windows' mask from each
// token's region, numpy's symmetric padding), on folders of random weights
// in transformers' layout (tests/images/make_swin2sr.py): every upsampler,
// both residual connections, inputs that are and are not a multiple of the
// window, batches. Also the torch backend's image and video answers, and
// its refusals of bad folders.
#include "lm_support.hpp"

#include "backends/hf/folder_error.hpp"
#include "backends/hf/swin2sr_config.hpp"
#include "backends/model/image_codec.hpp"
#include "backends/torch/image/swin2sr_model.hpp"
#include "backends/torch/torch_backend.hpp"
#include "backends/torch/torch_model.hpp"
#include "testkit/child_process.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <cmath>
#include <fstream>
#include <random>

using namespace tether;
using namespace tether::agent;
using namespace tether::lm_test;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

fs::path swin_folder(const std::string& name) { return made_folders("tests/images/make_swin2sr.py", "swin2sr") / name; }

at::Tensor random_pixels(std::int64_t b, std::int64_t h, std::int64_t w, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.0F, 1.0F);
    std::vector<float> v(static_cast<std::size_t>(b * 3 * h * w));
    for (auto& x : v) x = u(rng);
    return at::from_blob(v.data(), {b, 3, h, w}, at::kFloat).clone();
}

// The reference's reconstruction of `pixels` by `folder`.
at::Tensor reference(const fs::path& folder, const at::Tensor& pixels) {
    static int counter = 0;
    const auto n = ++counter;
    const fs::path in = fs::path(scratch()) / fmt::format("swin-px-{}.bin", n);
    const fs::path out = fs::path(scratch()) / fmt::format("swin-out-{}.bin", n);
    const fs::path job = fs::path(scratch()) / fmt::format("swin-job-{}.json", n);
    const auto px = pixels.contiguous();
    std::ofstream(in, std::ios::binary).write(reinterpret_cast<const char*>(px.data_ptr<float>()),
                                              static_cast<std::streamsize>(px.numel() * 4));
    std::ofstream(job) << fmt::format(R"({{"folder":"{}","pixels":"{}","shape":[{},{},{},{}],"out":"{}"}})", folder.string(),
                                      in.string(), px.size(0), px.size(1), px.size(2), px.size(3), out.string());
    auto r = testkit::run_to_completion(
        {python(), (fs::path(TETHER_SOURCE_DIR) / "tests/images/swin2sr_reference.py").string(), job.string()}, {}, scratch(),
        600s);
    INFO(r.status.describe() << "\n" << r.err.substr(0, 4000));
    REQUIRE(r.status.exited);
    REQUIRE(r.status.code == 0);
    simdjson::dom::parser p;
    simdjson::dom::element root;
    REQUIRE(!p.parse(r.out).get(root));
    std::vector<std::int64_t> shape;
    for (auto d : root["shape"].get_array()) shape.push_back(std::int64_t(d.get_int64()));
    std::ifstream f(out, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto t = at::empty(shape, at::kFloat);
    REQUIRE(bytes.size() == static_cast<std::size_t>(t.numel() * 4));
    std::memcpy(t.data_ptr<float>(), bytes.data(), bytes.size());
    return t;
}

struct recording_sink final : result_sink {
    std::optional<completion> done;
    std::vector<output_file> files;
    std::vector<std::string> deltas;
    std::string fail_code, fail_message;
    void processing() override {}
    void delta(std::string d) override { deltas.push_back(std::move(d)); }
    void file(output_file f) override { files.push_back(std::move(f)); }
    void completed(completion c) override { done = std::move(c); }
    void failed(std::string code, std::string message) override {
        fail_code = std::move(code);
        fail_message = std::move(message);
    }
};

job file_job(const std::string& name, const std::string& mime, std::string bytes) {
    job j;
    j.request_id = "00000000-0000-4000-8000-000000000002";
    j.space = "s";
    j.files.push_back(input_file{"file", name, mime, bytes.size(), std::move(bytes), ""});
    return j;
}

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A folder copied from `from` with config.json's `key` set to `json`.
fs::path with_config(const std::string& from, const std::string& key, const std::string& json) {
    const fs::path dir = fs::path(scratch()) / ("swin-bad-" + key);
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(swin_folder(from) / "model.safetensors", dir / "model.safetensors");
    std::string cfg = read_all(swin_folder(from) / "config.json");
    const auto at = cfg.find("\"" + key + "\"");
    REQUIRE(at != std::string::npos);
    const auto colon = cfg.find(':', at), end = cfg.find_first_of(",\n}", cfg.find_first_not_of(" ", colon + 1) + 1);
    std::string value_end = cfg.substr(end);
    if (cfg[cfg.find_first_not_of(" ", colon + 1)] == '[') value_end = cfg.substr(cfg.find(']', colon) + 1);
    cfg = cfg.substr(0, colon + 1) + " " + json + value_end;
    std::ofstream(dir / "config.json") << cfg;
    return dir;
}

} // namespace

TEST_CASE("swin2sr: every upsampler and residual connection matches the Python reference", "[swin2sr]") {
    for (const char* name : {"swin2sr-x2", "swin2sr-light-x3", "swin2sr-real-x4", "swin2sr-jpeg"}) {
        INFO(name);
        image::swin2sr_model model(swin_folder(name), test_load_options());
        const auto s = model.config().scale();
        // Not a multiple of the window (padded, then cropped) in a batch of
        // two; then exactly the training size (every shifted window masked).
        for (const auto& [b, h, w] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{2, 10, 13}, {1, 16, 16}}) {
            INFO(b << "x" << h << "x" << w);
            const auto px = random_pixels(b, h, w, static_cast<std::uint32_t>(h * 31 + w));
            at::Tensor ours;
            {
                c10::InferenceMode guard;
                ours = model.forward(px).to(at::kCPU, at::kFloat);
            }
            REQUIRE(ours.sizes() == at::IntArrayRef({b, 3, h * s, w * s}));
            const auto ref = reference(swin_folder(name), px);
            REQUIRE(ref.sizes() == ours.sizes());
            const double diff = (ours - ref).abs().max().item<double>();
            const double spread = ref.std().item<double>();
            INFO("max |ours - reference| " << diff << ", reference std " << spread);
            CHECK(spread > 0.05); // the weights make a picture that depends on the input
            CHECK(diff < 2e-4);
        }
    }
}

TEST_CASE("swin2sr: the torch backend answers an image with a PNG and a video with an MP4", "[swin2sr]") {
    torch_options o;
    o.device = test_load_options().device.str();
    o.models["s"] = swin_folder("swin2sr-x2").string();
    torch_backend be(o);
    CHECK(be.models("s") == std::vector<std::string>{"swin2sr-x2"});
    cancellation_token none;

    SECTION("a PNG: twice the size, each pixel the reference's, rounded") {
        image_rgb img{11, 7, std::vector<std::uint8_t>(11 * 7 * 3)};
        for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>((i * 37 + i / 5) % 256);
        recording_sink sink;
        be.run(file_job("small.png", "image/png", encode_png(img)), none, sink);
        INFO(sink.fail_message);
        REQUIRE(sink.done);
        REQUIRE(sink.files.size() == 1);
        CHECK(sink.files[0].mime == "image/png");
        auto out = decode_image(sink.files[0].bytes, {});
        REQUIRE(out.image);
        CHECK(out.image->width == 22);
        CHECK(out.image->height == 14);
        // The reference on the same [0, 1] pixels, clamped and rounded as transformers' example does.
        auto px = at::empty({1, 3, 7, 11}, at::kFloat);
        for (std::int64_t c = 0; c < 3; ++c)
            for (std::int64_t y = 0; y < 7; ++y)
                for (std::int64_t x = 0; x < 11; ++x)
                    px[0][c][y][x] = img.pixels[static_cast<std::size_t>((y * 11 + x) * 3 + c)] / 255.0F;
        const auto ref = (reference(swin_folder("swin2sr-x2"), px).clamp(0, 1) * 255).round();
        int off = 0;
        for (std::int64_t c = 0; c < 3; ++c)
            for (std::int64_t y = 0; y < 14; ++y)
                for (std::int64_t x = 0; x < 22; ++x) {
                    const int got = out.image->pixels[static_cast<std::size_t>((y * 22 + x) * 3 + c)];
                    off = std::max(off, std::abs(got - static_cast<int>(ref[0][c][y][x].item<float>())));
                }
        CHECK(off <= 1);
    }
    SECTION("a video: every frame through the model, twice the size, the sound kept") {
        const fs::path mp4 = fs::path(scratch()) / "swin-in.mp4";
        REQUIRE(std::system(fmt::format("ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc=size=24x16:rate=10 -f lavfi "
                                        "-i sine=frequency=440:sample_rate=16000 -t 0.6 -c:v libx264 -pix_fmt yuv420p "
                                        "-c:a aac -shortest {}",
                                        mp4.string())
                                .c_str()) == 0);
        recording_sink sink;
        // Named and typed as nothing in particular: told apart by its bytes.
        be.run(file_job("clip.bin", "application/octet-stream", read_all(mp4)), none, sink);
        INFO(sink.fail_message);
        REQUIRE(sink.done);
        REQUIRE(sink.files.size() == 1);
        CHECK(sink.files[0].mime == "video/mp4");
        simdjson::dom::parser p;
        simdjson::dom::element x;
        REQUIRE(!p.parse(sink.done->extra_json).get(x));
        CHECK(std::uint64_t(x["frames"].get_uint64()) == 6);
        CHECK(std::uint64_t(x["width"].get_uint64()) == 48);
        CHECK(std::uint64_t(x["height"].get_uint64()) == 32);
        CHECK(std::string(std::string_view(x["audio"].get_string())) == "copied (aac)");
        CHECK_FALSE(sink.deltas.empty());
    }
    SECTION("neither an image nor a video: bad_input naming the file") {
        recording_sink sink;
        be.run(file_job("notes.txt", "text/plain", "just words"), none, sink);
        CHECK(sink.fail_code == "bad_input");
        CHECK_THAT(sink.fail_message, Contains("notes.txt"));
    }
}

TEST_CASE("swin2sr: a folder it cannot serve is refused at load, naming the field", "[swin2sr]") {
    auto refusal = [](const fs::path& dir) {
        try {
            image::swin2sr_model m(dir, test_load_options());
        } catch (const hf::folder_error& e) {
            return std::string(e.what());
        }
        return std::string("(loaded)");
    };
    CHECK_THAT(refusal(with_config("swin2sr-x2", "upsampler", "\"pixelshuffle_aux\"")), Contains("upsampler"));
    CHECK_THAT(refusal(with_config("swin2sr-x2", "num_heads", "[3, 4]")), Contains("do not divide embed_dim"));
    CHECK_THAT(refusal(with_config("swin2sr-x2", "upscale", "6")), Contains("power of 2 or 3"));
    CHECK_THAT(refusal(with_config("swin2sr-x2", "embed_dim", "32")), Contains("model.safetensors"));
    CHECK_THAT(refusal(with_config("swin2sr-x2", "depths", "[2, 2, 2]")), Contains("one head count per stage"));
}

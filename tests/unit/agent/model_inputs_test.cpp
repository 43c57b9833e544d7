// From a job to the numbers a model declared: params against the sidecar's
// defaults and limits, padding and truncation, resampling, normalisation,
// spooled uploads, and a bad_input refusal for everything that does not fit.

#include "backends/model/model_inputs.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

using namespace tether::agent;

namespace {

model_spec spec_of(const std::string& json) {
    auto r = parse_model_spec(json, "m");
    INFO(r.error);
    REQUIRE(r.spec);
    return *r.spec;
}

job with_prompt(std::string prompt, std::string params = "{}") {
    job j;
    j.prompt = std::move(prompt);
    j.params_json = std::move(params);
    return j;
}

job with_file(std::string bytes, std::string name = "in.bin") {
    job j;
    input_file f;
    f.name = std::move(name);
    f.size = bytes.size();
    f.bytes = std::move(bytes);
    j.files.push_back(std::move(f));
    return j;
}

const std::string lm = R"({"task":"text-generation","generation":{"max_tokens":10,"temperature":0.7,"top_k":5},
                           "limits":{"max_prompt_bytes":8,"max_tokens":50}})";

} // namespace

TEST_CASE("generation params override the sidecar's defaults within its limits", "[inputs]") {
    auto s = spec_of(lm);
    auto d = prepare_generation(with_prompt("hi"), s, 99);
    REQUIRE(d.ok());
    CHECK(d.value->max_tokens == 10);
    CHECK(d.value->sampling.temperature == 0.7);
    CHECK(d.value->sampling.top_k == 5);
    CHECK(d.value->seed == 99);
    CHECK(d.value->prompt_tokens == std::vector<std::int64_t>{'h', 'i'});

    auto p = prepare_generation(with_prompt("\xff", R"({"max_tokens":50,"temperature":0,"top_k":0,"seed":7})"), s, 99);
    REQUIRE(p.ok());
    CHECK(p.value->max_tokens == 50);
    CHECK(p.value->sampling.temperature == 0);
    CHECK(p.value->sampling.top_k == 0);
    CHECK(p.value->seed == 7);
    CHECK(p.value->prompt_tokens == std::vector<std::int64_t>{255});

    // null means "not given" (OpenAI clients send it).
    CHECK(prepare_generation(with_prompt("x", R"({"max_tokens":null,"temperature":null})"), s, 1).ok());
}

TEST_CASE("generation refuses empty or long prompts and out-of-range params", "[inputs]") {
    auto s = spec_of(lm);
    auto message = [&](const job& j) {
        auto r = prepare_generation(j, s, 1);
        CHECK_FALSE(r.ok());
        CHECK(r.error.code == "bad_input");
        return r.error.message;
    };
    CHECK(message(with_prompt("")).find("prompt is empty") != std::string::npos);
    CHECK(message(with_prompt("123456789")).find("9 bytes, over this model's limit of 8") != std::string::npos);
    CHECK(message(with_prompt("x", R"({"max_tokens":51})")) == "params.max_tokens: expected a whole number from 1 to 50");
    CHECK(message(with_prompt("x", R"({"max_tokens":2.5})")).find("params.max_tokens") == 0);
    CHECK(message(with_prompt("x", R"({"top_k":257})")).find("params.top_k") == 0);
    CHECK(message(with_prompt("x", R"({"temperature":9})")) == "params.temperature: expected a number from 0 to 5");
    CHECK(message(with_prompt("x", R"({"temperature":"warm"})")).find("params.temperature") == 0);
    CHECK(message(with_prompt("x", R"({"seed":-1})")).find("params.seed") == 0);
    CHECK(message(with_prompt("x", "[1]")) == "params: expected a JSON object");
}

TEST_CASE("text for a classifier is truncated or zero-padded to the declared length", "[inputs]") {
    auto s = spec_of(R"({"task":"classification","input":{"kind":"text","length":4},"output":{"labels":["a"]}})");
    CHECK(*prepare_text_tokens(with_prompt("ab"), s).value == std::vector<std::int64_t>{'a', 'b', 0, 0});
    CHECK(*prepare_text_tokens(with_prompt("abcdef"), s).value == std::vector<std::int64_t>{'a', 'b', 'c', 'd'});
    CHECK_FALSE(prepare_text_tokens(with_prompt(""), s).ok());
}

TEST_CASE("audio is resampled to the model's rate and a classifier's is padded to its length", "[inputs]") {
    auto cls = spec_of(R"({"task":"classification","input":{"kind":"audio","sample_rate":8000,"samples":1000},
                           "output":{"labels":["a"]}})");
    auto clip = prepare_audio(with_file(encode_wav_pcm16(std::vector<float>(1600, 0.5F), 16000), "x.wav"), cls);
    REQUIRE(clip.ok());
    CHECK(clip.value->sample_rate == 8000);
    REQUIRE(clip.value->samples.size() == 1000);
    CHECK(clip.value->samples[0] == Approx(0.5).margin(1e-4));
    CHECK(clip.value->samples[799] == Approx(0.5).margin(1e-4));
    CHECK(clip.value->samples[800] == 0.0F); // padding

    auto fx = spec_of(R"({"task":"audio","input":{"sample_rate":8000},"limits":{"max_seconds":1}})");
    auto too_long = prepare_audio(with_file(encode_wav_pcm16(std::vector<float>(8001), 8000), "long.wav"), fx);
    REQUIRE_FALSE(too_long.ok());
    CHECK(too_long.error.message.find("long.wav: it is 1.00 s long, over this model's limit of 1 s") == 0);
    auto not_wav = prepare_audio(with_file("OggS....", "a.ogg"), fx);
    REQUIRE_FALSE(not_wav.ok());
    CHECK(not_wav.error.message.find("a.ogg: ") == 0);
    CHECK(prepare_audio(job{}, fx).error.message.find("needs an uploaded file") != std::string::npos);
}

TEST_CASE("a classifier resamples only the audio it keeps, so a long clip at a low rate costs little", "[inputs]") {
    // Found by media_fuzz: a 394-byte WAV at 1 Hz made a 48 kHz classifier
    // resample all of it first (67 MB; a 2 MB upload asked for 192 GB).
    auto cls = spec_of(R"({"task":"classification","input":{"kind":"audio","sample_rate":48000,"samples":4000},
                           "output":{"labels":["a"]}})");
    std::vector<float> slow(1U << 20, 0.25F);
    slow[0] = 0.5F;
    auto clip = prepare_audio(with_file(encode_wav_pcm16(slow, 1), "slow.wav"), cls);
    REQUIRE(clip.ok());
    REQUIRE(clip.value->samples.size() == 4000);
    // Output samples this early all sit before the first input sample's centre.
    CHECK(clip.value->samples[3999] == Approx(0.5).margin(1e-4));

    // What it keeps is what resampling the whole clip gives.
    auto cls8k = spec_of(R"({"task":"classification","input":{"kind":"audio","sample_rate":8000,"samples":1000},
                             "output":{"labels":["a"]}})");
    std::vector<float> tone(16000);
    for (std::size_t i = 0; i < tone.size(); ++i) tone[i] = static_cast<float>((i * 37) % 101) / 101.0F - 0.5F;
    const auto wav = encode_wav_pcm16(tone, 16000);
    auto kept = prepare_audio(with_file(wav, "tone.wav"), cls8k);
    REQUIRE(kept.ok());
    const auto whole = resample_linear(decode_wav(wav, 1U << 20).clip->samples, 16000, 8000);
    REQUIRE(kept.value->samples.size() == 1000);
    CHECK(std::equal(kept.value->samples.begin(), kept.value->samples.end(), whole.begin()));
}

TEST_CASE("uploads spooled to disk are read from their file, within the size limit", "[inputs]") {
    auto path = (std::filesystem::temp_directory_path() / "tether-inputs-test.bin").string();
    std::ofstream(path, std::ios::binary) << "spooled bytes";
    job j;
    input_file f;
    f.name = "big.bin";
    f.size = 13;
    f.path = path;
    j.files.push_back(f);
    auto read = first_file_bytes(j, 100);
    REQUIRE(read.ok());
    CHECK(*read.value == "spooled bytes");
    auto over = first_file_bytes(j, 12);
    REQUIRE_FALSE(over.ok());
    CHECK(over.error.message == "big.bin is 13 bytes, over this model's limit of 12 bytes");
    std::filesystem::remove(path);
    auto gone = first_file_bytes(j, 100);
    REQUIRE_FALSE(gone.ok());
    CHECK(gone.error.code == "model_error");
}

TEST_CASE("images become normalised planar floats and back to clamped bytes", "[inputs]") {
    image_rgb img{2, 1, {255, 0, 51, 0, 255, 102}};
    auto planar = to_planar(img, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5});
    REQUIRE(planar.size() == 6);
    CHECK(planar[0] == Approx(1.0));  // R of pixel 0
    CHECK(planar[1] == Approx(-1.0)); // R of pixel 1
    CHECK(planar[4] == Approx((0.2 - 0.5) / 0.5));
    const float chw[6] = {-1.0F, 2.0F, 0.5F, 0.0F, 1.0F, 0.2F};
    auto back = from_planar(chw, 2, 1);
    CHECK(back.pixels == std::vector<std::uint8_t>{0, 128, 255, 255, 0, 51});

    auto cls = spec_of(R"({"task":"classification","input":{"kind":"image","width":4,"height":2},
                           "output":{"labels":["a"]},"limits":{"max_pixels":100}})");
    auto resized = prepare_image(with_file(encode_png(image_rgb{10, 10, std::vector<std::uint8_t>(300, 9)}), "p.png"), cls);
    REQUIRE(resized.ok());
    CHECK(resized.value->width == 4);
    CHECK(resized.value->height == 2);
    auto over = prepare_image(with_file(encode_png(image_rgb{11, 10, std::vector<std::uint8_t>(330, 9)}), "q.png"), cls);
    CHECK_FALSE(over.ok());
}

TEST_CASE("a tensor prompt must match the declared shape and dtype", "[inputs]") {
    auto f = spec_of(R"({"task":"tensor","input":{"shape":[-1,2]},"output":{"shape":[1]},"limits":{"max_elements":4}})");
    auto ok = prepare_tensor(with_prompt("[[1,2],[3,4]]"), f);
    REQUIRE(ok.ok());
    CHECK(ok.value->shape == std::vector<std::int64_t>{2, 2});
    CHECK_FALSE(prepare_tensor(with_prompt("[[1,2,3]]"), f).ok());
    CHECK_FALSE(prepare_tensor(with_prompt("[[1,2],[3,4],[5,6]]"), f).ok()); // 6 elements > 4
    CHECK_FALSE(prepare_tensor(with_prompt(""), f).ok());
    auto i = spec_of(R"({"task":"tensor","input":{"shape":[2],"dtype":"int64"},"output":{"shape":[1]}})");
    CHECK(prepare_tensor(with_prompt("[1, 2]"), i).ok());
    auto frac = prepare_tensor(with_prompt("[1, 2.5]"), i);
    REQUIRE_FALSE(frac.ok());
    CHECK(frac.error.message == "prompt: this model takes whole numbers (int64)");
}

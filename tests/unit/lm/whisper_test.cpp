// Whisper run natively against the independent Python reference
// (tests/audio/whisper_reference.py: its own float32 forward pass without a
// KV cache, its own decoding rules), on folders of random weights with the
// real Whisper tokenizer and configs (tests/audio/make_whisper.py).
#include "lm_support.hpp"

#include "backends/hf/folder_error.hpp"
#include "backends/model/log_mel.hpp"
#include "backends/torch/whisper/whisper_engine.hpp"
#include "testkit/child_process.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <cmath>
#include <fstream>
#include <numbers>
#include <random>
#include <thread>

using namespace tether;
using namespace tether::agent;
using namespace tether::lm_test;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

fs::path whisper_folder(const std::string& name) { return made_folders("tests/audio/make_whisper.py", "whisper") / name; }

// Tones gliding and pulsing, with a little noise: not speech, but never
// silent, so every window is decoded.
std::vector<float> signal(double seconds, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.0F, 0.02F);
    const auto n = static_cast<std::size_t>(seconds * 16000);
    std::vector<float> s(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / 16000;
        const double f = 200 + 150 * std::sin(2 * std::numbers::pi * 0.3 * t) + 40.0 * (seed % 5);
        const double env = 0.5 + 0.5 * std::sin(2 * std::numbers::pi * 2.5 * t);
        s[i] = static_cast<float>(0.3 * env * std::sin(2 * std::numbers::pi * f * t) + 0.1 * std::sin(2 * std::numbers::pi * 3 * f * t)) +
               noise(rng);
    }
    return s;
}

struct ref_segment {
    double start, end;
    std::vector<std::int64_t> tokens;
};
struct ref_result {
    std::string language;
    std::size_t windows = 0, skipped = 0;
    std::vector<ref_segment> segments;
};

struct ref_job {
    std::vector<float> samples;
    std::optional<std::string> language;
    std::string task = "transcribe";
    bool timestamps = true;
    std::vector<std::int64_t> prompt;
};

std::vector<ref_result> reference(const fs::path& folder, const std::vector<ref_job>& jobs, const fs::path& encoder_out = {}) {
    static int counter = 0;
    const int n = ++counter;
    std::string j = "{\"folder\":\"" + folder.string() + "\",";
    if (!encoder_out.empty()) j += "\"encoder_out\":\"" + encoder_out.string() + "\",";
    j += "\"jobs\":[";
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        const fs::path f = fs::path(scratch()) / ("whisper-samples-" + std::to_string(n) + "-" + std::to_string(i) + ".f32");
        std::ofstream(f, std::ios::binary)
            .write(reinterpret_cast<const char*>(jobs[i].samples.data()), static_cast<std::streamsize>(jobs[i].samples.size() * 4));
        std::string prompt = "[";
        for (std::size_t k = 0; k < jobs[i].prompt.size(); ++k) prompt += (k ? "," : "") + std::to_string(jobs[i].prompt[k]);
        prompt += "]";
        j += (i ? "," : "") + std::string("{\"samples\":\"") + f.string() + "\",\"language\":" +
             (jobs[i].language ? "\"" + *jobs[i].language + "\"" : "null") + ",\"task\":\"" + jobs[i].task +
             "\",\"timestamps\":" + (jobs[i].timestamps ? "true" : "false") + ",\"prompt\":" + prompt + "}";
    }
    j += "]}";
    const fs::path file = fs::path(scratch()) / ("whisper-job-" + std::to_string(n) + ".json");
    std::ofstream(file) << j;
    auto r = testkit::run_to_completion({python(), (fs::path(TETHER_SOURCE_DIR) / "tests/audio/whisper_reference.py").string(),
                                         file.string()}, {}, scratch(), 600s);
    INFO("whisper_reference.py: " << r.status.describe() << "\n" << r.err.substr(0, 4000));
    REQUIRE(r.status.exited);
    REQUIRE(r.status.code == 0);
    simdjson::dom::parser p;
    simdjson::dom::element root;
    REQUIRE(!p.parse(r.out).get(root));
    std::vector<ref_result> out;
    for (auto res : root["results"].get_array()) {
        ref_result rr;
        rr.language = std::string(std::string_view(res["language"].get_string()));
        rr.windows = static_cast<std::size_t>(std::int64_t(res["windows"].get_int64()));
        rr.skipped = static_cast<std::size_t>(std::int64_t(res["skipped"].get_int64()));
        for (auto s : res["segments"].get_array()) {
            ref_segment seg{double(s["start"].get_double()), double(s["end"].get_double()), {}};
            for (auto t : s["tokens"].get_array()) seg.tokens.push_back(std::int64_t(t.get_int64()));
            rr.segments.push_back(std::move(seg));
        }
        out.push_back(std::move(rr));
    }
    return out;
}

whisper::decode_options options_of(const whisper::whisper_engine& e, const ref_job& j) {
    whisper::decode_options o;
    if (j.language) o.language = e.model().config().tokens.language_id(*j.language);
    o.translate = j.task == "translate";
    o.timestamps = j.timestamps;
    return o;
}

void check_same(const whisper::transcript& t, const ref_result& ref) {
    CHECK(t.language == ref.language);
    CHECK(t.windows == ref.windows);
    CHECK(t.windows_skipped == ref.skipped);
    REQUIRE(t.segments.size() == ref.segments.size());
    for (std::size_t i = 0; i < ref.segments.size(); ++i) {
        INFO("segment " << i);
        CHECK(t.segments[i].tokens == ref.segments[i].tokens);
        CHECK(t.segments[i].start == Approx(ref.segments[i].start).margin(1e-6));
        CHECK(t.segments[i].end == Approx(ref.segments[i].end).margin(1e-6));
    }
}

std::unique_ptr<whisper::whisper_engine> engine(const std::string& name, std::size_t batch = 1) {
    return whisper::load_whisper(whisper_folder(name), test_load_options(), batch, 20ms);
}

} // namespace

TEST_CASE("whisper folders: config and special tokens come from the folder's files", "[whisper]") {
    auto e = engine("whisper-test");
    const auto& c = e->model().config();
    // The ids the tokenizer gives these names (whisper-base's vocabulary).
    CHECK(c.tokens.sot == 50258);
    CHECK(c.tokens.eot == 50257);
    CHECK(c.tokens.timestamp_begin == 50364);
    CHECK(c.tokens.no_speech == 50362);
    CHECK(c.tokens.language_id("en") == 50259);
    CHECK(c.tokens.language_codes.size() == 99);
    CHECK(c.arch.d_model == 64);
    CHECK(c.generation.max_initial_timestamp_index == 50);
    CHECK(c.frontend.mel_filters.size() == 80U * 201U);
    CHECK_THAT(e->model().describe(), Contains("2+2 layers"));
}

TEST_CASE("whisper: the encoder output and the greedy transcript match the reference", "[whisper]") {
    auto e = engine("whisper-test");
    const fs::path folder = whisper_folder("whisper-test");
    std::vector<ref_job> jobs(4);
    jobs[0].samples = signal(9.5, 1); // language detected, timestamps
    jobs[1].samples = signal(7.0, 2); // translate from German, no timestamps
    jobs[1].language = "de";
    jobs[1].task = "translate";
    jobs[1].timestamps = false;
    jobs[2].samples = signal(5.0, 3); // conditioned on a prompt
    jobs[2].language = "en";
    jobs[2].prompt = e->prompt_tokens("Meeting notes about the quarterly budget.");
    REQUIRE(jobs[2].prompt.size() > 3);
    jobs[3].samples = signal(4.0, 4); // 2 s of silence inside
    std::fill(jobs[3].samples.begin() + 16000, jobs[3].samples.begin() + 48000, 0.0F);
    const fs::path enc_file = fs::path(scratch()) / "whisper-encoder.f32";
    const auto ref = reference(folder, jobs, enc_file);
    REQUIRE(ref.size() == jobs.size());

    // The encoder on the first window, to 1e-4.
    std::ifstream in(enc_file, std::ios::binary);
    std::vector<float> expected(1500 * 64);
    REQUIRE(in.read(reinterpret_cast<char*>(expected.data()), static_cast<std::streamsize>(expected.size() * 4)));
    const auto& fe = e->model().config().frontend;
    log_mel_config mc;
    mc.filters = fe.mel_filters;
    auto mel = whisper_log_mel(jobs[0].samples, mc);
    const at::Tensor got = e->model().encode(at::from_blob(mel.data(), {1, 80, 3000}, at::kFloat)).to(at::kCPU, at::kFloat).contiguous();
    const at::Tensor want = at::from_blob(expected.data(), {1, 1500, 64}, at::kFloat);
    CHECK((got - want).abs().max().item<float>() < 1e-4F);

    for (std::size_t i = 0; i < jobs.size(); ++i) {
        INFO("job " << i);
        auto t = e->transcribe(jobs[i].samples, options_of(*e, jobs[i]), jobs[i].prompt, {}, {});
        CHECK(!t.segments.empty());
        check_same(t, ref[i]);
    }
}

TEST_CASE("whisper: 75 s of audio is transcribed in three windows or more, seeking by the last timestamp", "[whisper]") {
    auto e = engine("whisper-test");
    ref_job j;
    j.samples = signal(75.0, 7);
    j.language = "en";
    const auto ref = reference(whisper_folder("whisper-test"), {j});
    std::vector<double> seen;
    auto t = e->transcribe(j.samples, options_of(*e, j), {}, [&](const whisper::segment& s) { seen.push_back(s.start); }, {});
    CHECK(t.windows >= 3);
    CHECK(t.duration == Approx(75.0));
    check_same(t, ref[0]);
    CHECK(seen.size() == t.segments.size());
    CHECK(std::is_sorted(seen.begin(), seen.end()));
    CHECK(t.segments.back().end <= 75.0);
}

TEST_CASE("whisper: silence is gated, never decoded into text", "[whisper]") {
    auto e = engine("whisper-test");
    std::vector<float> quiet(16000 * 40, 0.0F);
    for (std::size_t i = 0; i < quiet.size(); ++i) quiet[i] = 1e-4F * static_cast<float>(std::sin(static_cast<double>(i)));
    whisper::decode_options o;
    auto t = e->transcribe(quiet, o, {}, {}, {});
    CHECK(t.segments.empty());
    CHECK(t.windows == 2);
    CHECK(t.windows_skipped == 2);
    CHECK(t.text().empty());
}

TEST_CASE("whisper: an English-only model has no language or task tokens", "[whisper]") {
    auto e = engine("whisper-test-en");
    CHECK(!e->model().config().generation.is_multilingual);
    ref_job j;
    j.samples = signal(6.0, 5);
    const auto ref = reference(whisper_folder("whisper-test-en"), {j});
    auto t = e->transcribe(j.samples, options_of(*e, j), {}, {}, {});
    CHECK(t.language.empty());
    check_same(t, ref[0]);
}

TEST_CASE("whisper: concurrent requests share batched windows and get what they get alone", "[whisper]") {
    auto single = engine("whisper-test");
    auto batched = engine("whisper-test", 4);
    std::vector<std::vector<float>> clips{signal(12, 11), signal(40, 12), signal(8, 13)};
    std::vector<whisper::transcript> alone, together(clips.size());
    whisper::decode_options o;
    o.language = single->model().config().tokens.language_id("en");
    for (const auto& c : clips) alone.push_back(single->transcribe(c, o, {}, {}, {}));
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < clips.size(); ++i)
        threads.emplace_back([&, i] { together[i] = batched->transcribe(clips[i], o, {}, {}, {}); });
    for (auto& t : threads) t.join();
    for (std::size_t i = 0; i < clips.size(); ++i) {
        INFO("clip " << i);
        REQUIRE(together[i].segments.size() == alone[i].segments.size());
        for (std::size_t k = 0; k < alone[i].segments.size(); ++k) CHECK(together[i].segments[k].tokens == alone[i].segments[k].tokens);
    }
    CHECK(batched->windows_run() >= clips.size() + 1);
    CHECK(batched->batches_run() < batched->windows_run()); // some windows shared a call
}

TEST_CASE("whisper folders with a wrong file are refused naming it", "[whisper]") {
    const fs::path good = whisper_folder("whisper-test");
    const fs::path bad = fs::path(scratch()) / "whisper-bad";
    fs::remove_all(bad);
    fs::create_directories(bad);
    for (const auto& f : fs::directory_iterator(good)) fs::copy(f.path(), bad / f.path().filename());
    auto rewrite = [&](const std::string& file, const std::string& from, const std::string& to) {
        std::ifstream in(bad / file);
        std::string s((std::istreambuf_iterator<char>(in)), {});
        const auto at = s.find(from);
        REQUIRE(at != std::string::npos);
        s.replace(at, from.size(), to);
        std::ofstream(bad / file) << s;
    };
    auto refused = [&](std::initializer_list<std::string> words) {
        try {
            (void)whisper::load_whisper(bad, test_load_options(), 1, 1ms);
            FAIL("loaded");
        } catch (const std::exception& e) {
            INFO(e.what());
            for (const auto& w : words) CHECK_THAT(e.what(), Contains(w));
        }
    };
    rewrite("config.json", "\"num_mel_bins\": 80", "\"num_mel_bins\": 128");
    refused({"preprocessor_config.json", "feature_size", "num_mel_bins"});
    rewrite("config.json", "\"num_mel_bins\": 128", "\"num_mel_bins\": 80");
    rewrite("config.json", "\"d_model\": 64", "\"d_model\": 96");
    refused({"model.safetensors", "has shape", "expected"});
    rewrite("config.json", "\"d_model\": 96", "\"d_model\": 64");
    rewrite("config.json", "\"max_source_positions\": 1500", "\"max_source_positions\": 1000");
    refused({"max_source_positions", "3000 frames"});
    rewrite("config.json", "\"max_source_positions\": 1000", "\"max_source_positions\": 1500");
    rewrite("tokenizer.json", "\"<|0.00|>\"", "\"<|zero|>\"");
    refused({"tokenizer.json", "<|0.00|>"});
}

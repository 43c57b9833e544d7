// Whisper's log-mel front end against an independent implementation in
// Python (tests/audio/log_mel_reference.py: python3-torch's stft and the
// Slaney filter bank formula), and the filter bank against the one OpenAI
// shipped in whisper-base's preprocessor_config.json.
#include "backends/model/log_mel.hpp"

#include "testkit/child_process.hpp"
#include "testkit/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <cmath>
#include <cstring>
#include <numbers>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

using namespace tether::agent;
namespace fs = std::filesystem;

namespace {

std::string python() {
    const char* p = std::getenv("TETHER_PYTHON");
    return p != nullptr && *p != '\0' ? std::string(p) : std::string("/usr/bin/python3");
}

std::vector<float> read_f32(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<float> out(bytes.size() / sizeof(float));
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
    return out;
}

// The reference's features (and filter bank) for `samples`.
std::pair<std::vector<float>, std::vector<float>> reference(const std::vector<float>& samples, std::uint32_t n_mels) {
    tether::testkit::temp_dir dir("tether-log-mel-");
    const std::string in = dir.path() + "/in.f32", out = dir.path() + "/out.f32", filters = dir.path() + "/filters.f32";
    std::ofstream(in, std::ios::binary).write(reinterpret_cast<const char*>(samples.data()),
                                              static_cast<std::streamsize>(samples.size() * sizeof(float)));
    auto r = tether::testkit::run_to_completion(
        {python(), (fs::path(TETHER_SOURCE_DIR) / "tests/audio/log_mel_reference.py").string(), in,
         std::to_string(n_mels), out, filters},
        {}, dir.path(), std::chrono::seconds(120));
    INFO(r.err);
    REQUIRE(r.status.exited);
    REQUIRE(r.status.code == 0);
    return {read_f32(out), read_f32(filters)};
}

std::vector<float> signal(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.0F, 0.05F);
    std::vector<float> s(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / 16000.0;
        // a sweep from 100 Hz to 6 kHz, a 440 Hz tone, noise, and a silent stretch
        const double sweep = std::sin(2 * std::numbers::pi * (100 * t + 2900 * t * t / (static_cast<double>(n) / 16000.0)));
        const bool quiet = (i / 16000) % 5 == 3;
        s[i] = quiet ? 0.0F : static_cast<float>(0.4 * sweep + 0.2 * std::sin(2 * std::numbers::pi * 440 * t)) + noise(rng);
    }
    return s;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0;
    for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, static_cast<double>(std::abs(a[i] - b[i])));
    return d;
}

} // namespace

TEST_CASE("the FFT equals the direct transform for lengths of small and large prime factors", "[log-mel]") {
    for (std::size_t n : {1U, 2U, 5U, 12U, 400U, 97U, 2U * 131U}) {
        INFO("n = " << n);
        std::mt19937 rng(static_cast<unsigned>(n));
        std::uniform_real_distribution<double> u(-1, 1);
        std::vector<double> re(n), im(n);
        for (std::size_t i = 0; i < n; ++i) re[i] = u(rng), im[i] = u(rng);
        const auto x_re = re, x_im = im;
        fft_plan(n).forward(re, im);
        double worst = 0;
        for (std::size_t k = 0; k < n; ++k) {
            double sr = 0, si = 0;
            for (std::size_t j = 0; j < n; ++j) {
                const double a = -2 * std::numbers::pi * static_cast<double>(j * k % n) / static_cast<double>(n);
                sr += x_re[j] * std::cos(a) - x_im[j] * std::sin(a);
                si += x_re[j] * std::sin(a) + x_im[j] * std::cos(a);
            }
            worst = std::max({worst, std::abs(sr - re[k]), std::abs(si - im[k])});
        }
        CHECK(worst < 1e-9);
    }
}

TEST_CASE("the Slaney filter bank equals the one whisper-base ships", "[log-mel]") {
    const auto path = fs::path(TETHER_SOURCE_DIR) / "../shared/tokenizers/whisper/whisper-base/preprocessor_config.json";
    INFO(path.string() << " (../shared beside the checkout)");
    REQUIRE(fs::exists(path));
    simdjson::dom::parser p;
    auto doc = p.load(path.string());
    std::vector<float> shipped;
    for (auto row : doc["mel_filters"].get_array())
        for (auto v : row.get_array()) shipped.push_back(static_cast<float>(double(v)));
    const auto ours = slaney_mel_filters(80, 400, 16000);
    REQUIRE(ours.size() == shipped.size());
    CHECK(max_abs_diff(ours, shipped) < 1e-6);
}

TEST_CASE("log-mel features equal the reference's: 80 and 128 bins, short, whole and longer than a window",
          "[log-mel]") {
    for (auto [seconds, n_mels] : {std::pair{3.5, 80U}, std::pair{30.0, 80U}, std::pair{41.0, 128U}, std::pair{0.0, 80U}}) {
        INFO(seconds << " s, " << n_mels << " bins");
        const auto samples = signal(static_cast<std::size_t>(seconds * 16000), n_mels);
        auto [want, want_filters] = reference(samples, n_mels);
        log_mel_config c;
        c.n_mels = n_mels;
        const auto got = whisper_log_mel(samples, c);
        REQUIRE(got.size() == static_cast<std::size_t>(n_mels) * 3000);
        REQUIRE(want.size() == got.size());
        CHECK(max_abs_diff(got, want) < 1e-4);
        CHECK(max_abs_diff(slaney_mel_filters(n_mels, 400, 16000), want_filters) < 1e-6);
    }
}

#include "lm_support.hpp"

#include "testkit/child_process.hpp"
#include "testkit/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <set>

namespace tether::lm_test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string python() {
    const char* p = std::getenv("TETHER_PYTHON");
    return p != nullptr && *p != '\0' ? std::string(p) : std::string("/usr/bin/python3");
}

const std::string& scratch() {
    static testkit::temp_dir dir("tether-lm-test-");
    return dir.path();
}

fs::path made_folders(const std::string& script, const std::string& subdir) {
    static std::set<std::string> made;
    const fs::path out = fs::path(scratch()) / subdir;
    if (made.insert(subdir).second) {
        auto r = testkit::run_to_completion({python(), (fs::path(TETHER_SOURCE_DIR) / script).string(), out.string()}, {},
                                            scratch(), 300s);
        INFO(script << ": " << r.status.describe() << "\n" << r.err);
        REQUIRE(r.status.exited);
        REQUIRE(r.status.code == 0);
    }
    return out;
}

std::vector<fs::path> model_folders() {
    const fs::path out = made_folders("tests/llm/make_models.py", "models");
    std::vector<fs::path> folders;
    for (const char* n : {"llama3-gqa-bf16", "llama2-mha-f16-sharded", "llama-bias-headdim", "mistral-window", "qwen2-tied",
                          "gpt2-prefixed", "gpt2-plain-f16"})
        folders.push_back(out / n);
    return folders;
}

fs::path model_folder(const std::string& name) {
    for (const auto& f : model_folders())
        if (f.filename() == name) return f;
    FAIL("no model folder " << name);
    return {};
}

namespace {
std::string ids_json(const std::vector<std::int64_t>& ids) {
    std::string s = "[";
    for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
    return s + "]";
}
} // namespace

reference_answer run_reference(const fs::path& folder, const std::vector<std::vector<std::int64_t>>& sequences,
                               const std::vector<greedy_job>& greedy) {
    std::string job = "{\"folder\":\"" + folder.string() + "\",\"sequences\":[";
    for (std::size_t i = 0; i < sequences.size(); ++i) job += (i ? "," : "") + ids_json(sequences[i]);
    job += "],\"greedy\":[";
    for (std::size_t i = 0; i < greedy.size(); ++i)
        job += (i ? "," : "") + std::string("{\"prompt\":") + ids_json(greedy[i].prompt) + ",\"steps\":" +
               std::to_string(greedy[i].steps) + "}";
    job += "]}";
    static int counter = 0;
    const fs::path file = fs::path(scratch()) / ("reference-" + std::to_string(++counter) + ".json");
    std::ofstream(file) << job;
    auto r = testkit::run_to_completion(
        {python(), (fs::path(TETHER_SOURCE_DIR) / "tests/llm/reference.py").string(), file.string()}, {},
        scratch(), 300s);
    INFO("reference.py: " << r.status.describe() << "\n" << r.err.substr(0, 4000));
    REQUIRE(r.status.exited);
    REQUIRE(r.status.code == 0);
    simdjson::dom::parser p;
    simdjson::dom::element root;
    REQUIRE(!p.parse(r.out).get(root));
    reference_answer a;
    for (auto seq : root["logits"].get_array()) {
        std::vector<std::vector<float>> rows;
        for (auto pos : seq.get_array()) {
            std::vector<float> row;
            for (auto x : pos.get_array()) row.push_back(static_cast<float>(double(x.get_double())));
            rows.push_back(std::move(row));
        }
        a.logits.push_back(std::move(rows));
    }
    for (auto g : root["greedy"].get_array()) {
        std::vector<std::int64_t> ids;
        for (auto x : g.get_array()) ids.push_back(std::int64_t(x.get_int64()));
        a.greedy.push_back(std::move(ids));
    }
    return a;
}

agent::lm::lm_load_options test_load_options() {
    agent::lm::lm_load_options o;
    if (const char* d = std::getenv("TETHER_TEST_DEVICE"); d != nullptr && *d != '\0') {
        o.device = at::Device(std::string(d));
        o.dtype = at::kFloat;
    }
    return o;
}

std::vector<std::int64_t> some_ids(std::uint32_t seed, std::size_t n, std::int64_t vocab) {
    std::mt19937 rng(seed);
    std::vector<std::int64_t> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::int64_t>(rng() % static_cast<std::uint32_t>(vocab)));
    return out;
}

} // namespace tether::lm_test

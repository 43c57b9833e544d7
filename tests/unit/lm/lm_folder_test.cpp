// Hostile model folders: each is refused when the model loads, with a
// message naming the file and the tensor or field, never a crash.
#include "lm_support.hpp"

#include "backends/hf/folder_error.hpp"
#include "backends/torch/lm/causal_lm.hpp"
#include "testkit/child_process.hpp"

#include <catch2/catch.hpp>

using namespace tether;
using namespace tether::agent;
using namespace tether::lm_test;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST_CASE("hostile model folders are refused at load with the file and the tensor or field named", "[lm][folder]") {
    const fs::path good = model_folder("llama3-gqa-bf16");
    const fs::path out = fs::path(scratch()) / "broken";
    const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
        {"truncated", {"model.safetensors", "outside"}},
        {"huge-header", {"model.safetensors", "header", "limit"}},
        {"overlap", {"model.safetensors", "overlap"}},
        {"bad-json-header", {"model.safetensors", "not a JSON object"}},
        {"int-weights", {"model.safetensors", "model.norm.weight", "I16"}},
        {"wrong-shape", {"model.safetensors", "mlp.gate_proj.weight", "has shape", "expected"}},
        {"missing-tensor", {"model.layers.1.mlp.up_proj.weight", "missing"}},
        {"unknown-type", {"config.json", "model_type", "mamba", "not supported"}},
        {"bad-kv-heads", {"config.json", "num_key_value_heads", "does not divide"}},
        {"bad-rope", {"config.json", "rope_scaling", "yarn"}},
        {"no-weights", {"model.safetensors"}},
        {"index-escape", {"model.safetensors.index.json", "not a file name"}},
        {"index-missing", {"model.layers.9.mlp.up_proj.weight", "missing"}},
    };
    std::vector<std::string> argv{"/usr/bin/python3", (fs::path(TETHER_SOURCE_DIR) / "tests/llm/break_folder.py").string(),
                                  good.string(), out.string()};
    for (const auto& [kind, words] : cases) argv.push_back(kind);
    auto r = testkit::run_to_completion(argv, {}, scratch(), 120s);
    INFO(r.err);
    REQUIRE(r.status.code == 0);
    for (const auto& [kind, words] : cases) {
        INFO(kind);
        try {
            (void)lm::load_causal_lm(out / kind, {});
            FAIL("loaded");
        } catch (const hf::folder_error& e) {
            INFO(e.what());
            for (const auto& w : words) CHECK_THAT(e.what(), Contains(w));
        }
    }
}

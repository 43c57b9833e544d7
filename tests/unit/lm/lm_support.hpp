#pragma once
// What the language-model tests share: the model folders tests/llm/make_models.py
// writes (random weights, one per architecture variant; made once per
// process), and the independent Python reference (tests/llm/reference.py,
// Debian's python3-torch) run on a job.

// libtorch's headers define a glog-style CHECK that aborts; included after
// Catch's, it would replace Catch's CHECK in the including file.
#ifdef CATCH_VERSION_MAJOR
#error "include lm_support.hpp (libtorch) before catch.hpp"
#endif
#include "backends/torch/lm/causal_lm.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tether::lm_test {

// The variants' folders: llama3-gqa-bf16, llama2-mha-f16-sharded,
// llama-bias-headdim, mistral-window, qwen2-tied, gpt2-prefixed, gpt2-plain-f16.
std::vector<std::filesystem::path> model_folders();
// OUT: where `script` (a path in the source tree, run with python()) wrote
// its test folders, run once per process for each `subdir` of scratch().
std::filesystem::path made_folders(const std::string& script, const std::string& subdir);
std::filesystem::path model_folder(const std::string& name);
const std::string& scratch();
// The Python with torch that runs the reference: Debian's /usr/bin/python3,
// or TETHER_PYTHON (a PyTorch machine's own).
std::string python();

struct reference_answer {
    std::vector<std::vector<std::vector<float>>> logits; // per sequence, per position
    std::vector<std::vector<std::int64_t>> greedy;       // per greedy job, the ids picked
};
struct greedy_job {
    std::vector<std::int64_t> prompt;
    int steps = 0;
};
reference_answer run_reference(const std::filesystem::path& folder, const std::vector<std::vector<std::int64_t>>& sequences,
                               const std::vector<greedy_job>& greedy = {});

// Where the models under test run: the CPU, or TETHER_TEST_DEVICE (cuda,
// cuda:1; scripts/gpu-check.sh sets it), computing in float32 there too so
// the reference's tolerances hold.
agent::lm::lm_load_options test_load_options();

// Deterministic token ids below `vocab`.
std::vector<std::int64_t> some_ids(std::uint32_t seed, std::size_t n, std::int64_t vocab);

} // namespace tether::lm_test

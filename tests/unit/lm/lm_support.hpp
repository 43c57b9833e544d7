#pragma once
// What the language-model tests share: the model folders tests/llm/make_models.py
// writes (random weights, one per architecture variant; made once per
// process), and the independent Python reference (tests/llm/reference.py,
// Debian's python3-torch) run on a job.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tether::lm_test {

// The variants' folders: llama3-gqa-bf16, llama2-mha-f16-sharded,
// llama-bias-headdim, mistral-window, qwen2-tied, gpt2-prefixed, gpt2-plain-f16.
std::vector<std::filesystem::path> model_folders();
std::filesystem::path model_folder(const std::string& name);
const std::string& scratch();

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

// Deterministic token ids below `vocab`.
std::vector<std::int64_t> some_ids(std::uint32_t seed, std::size_t n, std::int64_t vocab);

} // namespace tether::lm_test

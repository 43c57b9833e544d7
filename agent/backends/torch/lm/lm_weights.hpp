#pragma once
// A model folder's weights as tensors on the serving device: each one taken
// by name with the shape the architecture expects (a missing or mis-shaped
// tensor names the file and the tensor), converted once to the compute dtype
// (on the CPU always float32). F32 weights used on the CPU as they are stay
// in the file's memory mapping; nothing is read twice.

#include "backends/hf/safetensors.hpp"

#include <ATen/ATen.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace tether::agent::lm {

class lm_weights {
  public:
    // Throws hf::folder_error.
    lm_weights(const std::filesystem::path& dir, at::Device device, at::ScalarType compute);

    // The tensor `name` of exactly `shape`; throws hf::folder_error naming it.
    at::Tensor take(const std::string& name, const std::vector<std::int64_t>& shape);
    bool has(const std::string& name) const { return files_.find(name) != nullptr; }
    // The first of `names` that is present ("" when none).
    std::string first_of(std::initializer_list<std::string> names) const;

    // Tensors of the files never taken (for the log), buffers such as
    // attn.bias and rotary_emb.inv_freq left out.
    std::vector<std::string> unused() const;
    const hf::weight_files& files() const { return files_; }
    at::ScalarType compute_dtype() const { return compute_; }
    at::Device device() const { return device_; }
    // The dtype most weights are stored in ("BF16", …).
    std::string stored_dtype() const;

  private:
    hf::weight_files files_;
    at::Device device_;
    at::ScalarType compute_;
    std::set<std::string, std::less<>> taken_;
};

} // namespace tether::agent::lm

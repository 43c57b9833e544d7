#pragma once
// One loaded TorchScript module and its sidecar: load onto a device, check the
// module against the sidecar with a dry run, and run forward calls under
// InferenceMode. Includes torch: only torch backend sources include this.

#include "backends/model/model_spec.hpp"

#include <torch/script.h>

#include <functional>
#include <stdexcept>
#include <string>

namespace tether::agent {

// A model that cannot serve: missing file, bad sidecar, or a module that does
// not do what its sidecar says. The agent exits 2 with this message.
struct model_load_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// "auto" -> cuda:0 when libtorch has CUDA and a GPU is visible, else cpu.
// Throws model_load_error for a CUDA device this process cannot use.
torch::Device resolve_device(const std::string& name);

// The short form of a torch error, without its C++ backtrace.
std::string torch_error_text(const std::exception& e);

class torch_model {
  public:
    // Loads `path` and its sidecar onto `device`; throws model_load_error.
    // `space` names the model in messages.
    torch_model(const std::string& space, const std::string& path, torch::Device device, bool half);
    // A model the agent runs natively (a Hugging Face image folder), serving
    // as `spec` says: forward gets the input on `device` and returns the
    // output there, in whatever floating dtype it computes in.
    using native_forward = std::function<torch::Tensor(const torch::Tensor&)>;
    torch_model(const std::string& space, const std::string& path, model_spec spec, torch::Device device, native_forward forward);

    const model_spec& spec() const { return spec_; }
    const std::string& path() const { return path_; }
    torch::Device device() const { return device_; }

    // Runs forward on `input` (CPU tensor, batch first): moved to the device,
    // float inputs cast to half when running in half, the output (first
    // element of a tuple) returned on the CPU as float32 (or int64).
    // Throws on a torch error; callers turn that into model_error.
    torch::Tensor forward(const torch::Tensor& input);

    // The dry run of the declared input (also the warm-up); throws
    // model_load_error naming the model, file and mismatch.
    void check_against_sidecar();

  private:
    std::string where() const;

    std::string space_;
    std::string path_;
    model_spec spec_;
    torch::Device device_;
    bool half_ = false;
    torch::jit::Module module_;
    native_forward native_;
};

// "[2, 3, 4]"
std::string shape_text(const torch::Tensor& t);
// Whether t's shape is `batch` followed by `declared` (-1 matches any size).
bool shape_matches(const torch::Tensor& t, std::int64_t batch, const std::vector<std::int64_t>& declared);

} // namespace tether::agent

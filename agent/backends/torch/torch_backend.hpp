#pragma once
// `--backend torch`: one TorchScript model per space (docs/models.md), loaded
// and dry-run at start, run on the agent's worker threads. This header does
// not include torch, so the app layer that picks a backend builds fast.

#include "backends/backend.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tether::agent {

struct torch_options {
    std::map<std::string, std::string> models; // space -> model.pt, or a Hugging Face model folder
    std::map<std::string, std::uint32_t> capacity; // space -> requests in flight (batching when > 1)
    std::string device = "auto";
    bool half = false;
    std::uint32_t max_batch = 8;
    std::chrono::milliseconds batch_wait{5};
    std::uint32_t torch_threads = 0;
    std::uint32_t max_context = 4096; // model folders: tokens per slot
    std::uint32_t max_audio_seconds = 3600; // speech models: the longest upload
    std::string dtype;                // model folders on CUDA: float16, bfloat16, float32; "" = stored
    std::map<std::string, std::string> chat_templates; // space -> Jinja file, for folders without a template
};

struct torch_batch_stats {
    std::uint64_t batches = 0;
    std::uint64_t items = 0;
};

class torch_backend final : public backend {
  public:
    // Loads every model and checks it against its sidecar; throws
    // std::runtime_error (a model_load_error) naming the model and the problem.
    explicit torch_backend(const torch_options& opts);
    ~torch_backend() override;

    std::string name() const override { return "torch"; }
    std::vector<std::string> models(const std::string& space) const override;
    std::optional<model_card> card(const std::string& space) const override;
    void run(const job& j, cancellation_token& cancel, result_sink& sink) override;

    std::string device_name() const;
    torch_batch_stats batch_stats(const std::string& space) const;

  private:
    struct served_model;
    std::map<std::string, std::unique_ptr<served_model>> served_;
    std::string device_name_;
};

} // namespace tether::agent

#pragma once
// One agent, a backend per space: the spaces with an upstream go to it, the
// others to the agent's --backend (mock or torch).

#include "backends/backend.hpp"

#include <map>
#include <memory>
#include <string>

namespace tether::agent {

class routing_backend final : public backend {
  public:
    // `by_space`: the spaces `special` serves; everything else goes to `main`.
    routing_backend(std::unique_ptr<backend> main, std::unique_ptr<backend> special, std::map<std::string, bool> by_space)
        : main_(std::move(main)), special_(std::move(special)), by_space_(std::move(by_space)) {}

    std::string name() const override { return main_->name() + "+" + special_->name(); }
    std::vector<std::string> models(const std::string& space) const override { return pick(space).models(space); }
    std::optional<model_card> card(const std::string& space) const override { return pick(space).card(space); }
    void run(const job& j, cancellation_token& cancel, result_sink& sink) override { pick(j.space).run(j, cancel, sink); }

  private:
    backend& pick(const std::string& space) const { return by_space_.count(space) ? *special_ : *main_; }
    std::unique_ptr<backend> main_;
    std::unique_ptr<backend> special_;
    std::map<std::string, bool> by_space_;
};

} // namespace tether::agent

#include "api/durable_answer.hpp"

namespace tether::broker::api {

void durable_answer::durable() {
    std::optional<net::string_response> held;
    {
        std::lock_guard lock(mutex_);
        durable_ = true;
        held.swap(held_);
    }
    if (held) return ex_->respond(std::move(*held));
    if (out_) ex_->respond_events(out_);
}

void durable_answer::refuse(net::string_response res) {
    {
        std::lock_guard lock(mutex_);
        answered_ = true;
        held_.reset();
    }
    ex_->respond(std::move(res));
}

void durable_answer::answer(net::string_response res) {
    if (durable_) return ex_->respond(std::move(res));
    held_ = std::move(res);
}

} // namespace tether::broker::api

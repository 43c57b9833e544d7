#pragma once
// How API handlers reach the broker core, which lives on its own strand:
// post work to it, or call and wait (from the API worker pool only, never from
// an io thread). The server's core_host implements it.

#include "core/broker_core.hpp"
#include "net/sse_channel.hpp"

#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <type_traits>
#include <utility>

namespace tether::broker::api {

// Terminal outcomes per (space, state), for /metrics.
using outcome_counts = std::map<std::pair<std::string, std::string>, std::uint64_t>;

// Sees every event of one request, on the core strand, until its terminal one.
using event_observer = std::function<void(const request_event&)>;

class core_access {
public:
    virtual ~core_access() = default;
    virtual void post(std::function<void(broker_core&)> f) = 0;
    // A space's configuration as the core last had it, without a trip to the
    // core (any thread, never blocks on it). nullopt: no such space.
    virtual std::optional<space_config> find_space_config(std::string_view name) const = 0;
    // `done` runs once the record is durable, or with durable == false when
    // the core refused it or the store failed. Any thread.
    virtual void submit(request_record r, std::function<void(submit_outcome, bool durable)> done) = 0;
    // The same, with `observer` attached before the request can produce any event.
    virtual void submit_observed(request_record r, event_observer observer,
                                 std::function<void(submit_outcome, bool durable)> done) = 0;
    // Inside post/call only: attach an SSE channel to a request's live events.
    virtual void add_watcher(broker_core& core, const uuid& id, std::shared_ptr<net::sse_channel> channel) = 0;
    // Inside post/call only.
    virtual outcome_counts outcomes() const = 0;

    template <class F>
    auto call(F f) -> decltype(f(std::declval<broker_core&>())) {
        using R = decltype(f(std::declval<broker_core&>()));
        auto p = std::make_shared<std::promise<R>>();
        auto fut = p->get_future();
        post([p, &f](broker_core& c) {
            if constexpr (std::is_void_v<R>) {
                f(c);
                p->set_value();
            } else {
                p->set_value(f(c));
            }
        });
        return fut.get();
    }
};

} // namespace tether::broker::api

#include "api/request_access.hpp"

namespace tether::broker::api {

bool may_see(const caller& who, const request_record& r) {
    return who.user && (who.user->admin || who.user->name == r.username);
}

std::optional<found_request> find_request_for(api_services& s, const caller& who, std::string_view id_text) {
    auto id = uuid::parse(id_text);
    if (!id) return std::nullopt;
    auto live = s.core.call([&](broker_core& c) -> std::optional<found_request> {
        const auto* r = c.find(*id);
        if (!r) return std::nullopt;
        return found_request{*r, c.position(*id), true};
    });
    if (!live) {
        auto stored = s.st.get_request(*id);
        if (!stored) return std::nullopt;
        live = found_request{std::move(*stored), std::nullopt, false};
    }
    if (!may_see(who, live->record)) return std::nullopt;
    return live;
}

} // namespace tether::broker::api

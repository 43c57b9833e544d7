#include "api/request_access.hpp"

#include "api/json_helpers.hpp"

#include <fmt/format.h>

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

namespace tether::broker::api {

net::string_response missing_request(api_services& s, const caller& who, std::string_view id_text) {
    namespace http = boost::beast::http;
    auto not_found = error_response(http::status::not_found, "not_found", "no such request");
    auto id = uuid::parse(id_text);
    if (!id) return not_found;
    auto removed = s.st.find_removed(*id);
    if (!removed || !who.user || (!who.user->admin && who.user->name != removed->username)) return not_found;
    const std::string why = removed->reason == "size"
                                ? "to keep the data directory under its size limit (serve --max-data-size)"
                                : "by the retention policy: finished requests are kept for a limited time "
                                  "(serve --retain), then deleted with their files";
    return error_response(http::status::gone, "gone",
                          fmt::format("request {} was removed on {} {}", id->to_string(),
                                      format_rfc3339(removed->removed), why));
}

} // namespace tether::broker::api

#pragma once
// Finding a request for a caller: live from the core (with its queue
// position) or, once the core has let it go, from the store; the rule that a
// user sees only their own requests while admins see all; and the answer for
// one that is not there (404, or 410 once retention removed it).

#include "api/api_call.hpp"

#include <optional>
#include <string_view>

namespace tether::broker::api {

struct found_request {
    request_record record;
    std::optional<std::size_t> position;
    bool live = false; // the core still holds it
};

// nullopt when unknown, or when the caller may not see it (both answer 404,
// so ids of others' requests are not confirmed).
std::optional<found_request> find_request_for(api_services& s, const caller& who, std::string_view id_text);

bool may_see(const caller& who, const request_record& r);

// The answer for a request find_request_for did not find: 410 Gone when
// retention removed it and the caller may see it (its owner or an admin),
// saying when and why; 404 otherwise. Reads the store: blocking.
net::string_response missing_request(api_services& s, const caller& who, std::string_view id_text);

} // namespace tether::broker::api

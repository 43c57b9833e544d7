#include "store/store_types.hpp"

namespace tether::broker {

std::string_view to_string(store_status s) {
    switch (s) {
    case store_status::ok:
        return "ok";
    case store_status::not_found:
        return "not_found";
    case store_status::already_exists:
        return "already_exists";
    case store_status::invalid:
        return "invalid";
    case store_status::failed:
        return "failed";
    }
    return "failed";
}

} // namespace tether::broker

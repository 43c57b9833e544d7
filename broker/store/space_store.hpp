#pragma once
// Space configurations as admins set them. The agent token is generated here
// (random_hex(32)), returned once and stored only as tether::hash_token.
// Calls block on disk; they are rare (start-up, admin actions).

#include "core/space.hpp"
#include "store/store_types.hpp"

#include <optional>
#include <string>
#include <vector>

namespace tether::broker {

class space_store {
  public:
    virtual ~space_store() = default;

    // Creates the space with a fresh agent token (config.token_hash is ignored)
    // and returns the token. already_exists / invalid (bad name, zero timeout or
    // queue limit, unknown feature bits) otherwise.
    virtual secret_result add_space(const space_config& config) = 0;
    // Replaces description, features, timeout and queue limit; keeps the token.
    virtual store_status update_space(const space_config& config) = 0;
    virtual store_status delete_space(const std::string& name) = 0;
    virtual std::optional<space_config> get_space(const std::string& name) = 0;
    virtual std::vector<space_config> list_spaces() = 0; // by name; empty on a read error (logged)
    // The same, telling a read error (`failed`, `out` untouched) from no
    // spaces: for callers that act on what is missing.
    virtual store_status read_spaces(std::vector<space_config>& out) = 0;
    // New agent token for the space, returned once; the old one stops working.
    virtual secret_result rotate_space_token(const std::string& name) = 0;
    virtual store_status set_space_token_hash(const std::string& name, const std::string& token_hash) = 0;
};

} // namespace tether::broker

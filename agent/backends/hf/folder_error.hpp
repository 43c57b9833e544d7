#pragma once
// A Hugging Face model folder that cannot be served: a missing or malformed
// file, a tensor of the wrong shape, a config value out of range. The message
// names the file and the tensor or field; the agent exits 2 with it.

#include <stdexcept>

namespace tether::agent::hf {

struct folder_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

} // namespace tether::agent::hf

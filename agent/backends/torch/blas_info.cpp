#include "backends/torch/blas_info.hpp"

#include <dlfcn.h>
#include <fmt/core.h>

namespace tether::agent {

blas_info match_blas_threads(int threads) {
    // Found through the process's global symbols: libtorch loaded libblas.so.3.
    using set_threads_fn = void (*)(int);
    using get_config_fn = char* (*)();
    auto set_threads = reinterpret_cast<set_threads_fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    auto get_config = reinterpret_cast<get_config_fn>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
    if (set_threads == nullptr) return {"reference BLAS or another one (libblas.so.3; install libopenblas0 for speed)", false};
    if (threads > 0) set_threads(threads);
    const char* config = get_config != nullptr ? get_config() : nullptr;
    return {fmt::format("{} (threads {})", config != nullptr ? config : "OpenBLAS", threads), true};
}

} // namespace tether::agent

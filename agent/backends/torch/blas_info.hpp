#pragma once
// Which BLAS libtorch's CPU matrix products run on. Debian's libtorch links
// libblas.so.3, which is whichever implementation the system's alternatives
// point at: the slow reference one unless OpenBLAS (libopenblas0) is
// installed. OpenBLAS keeps its own thread pool, which must match libtorch's
// thread count: twice as many threads as cores spin against each other.

#include <string>

namespace tether::agent {

struct blas_info {
    std::string name; // "OpenBLAS 0.3.21 … (threads 2)", or "reference BLAS (libblas.so.3)"
    bool fast = false; // an optimised BLAS (OpenBLAS) was found
};

// Sets OpenBLAS's thread count to `threads` when OpenBLAS is what is loaded,
// and says what is.
blas_info match_blas_threads(int threads);

} // namespace tether::agent

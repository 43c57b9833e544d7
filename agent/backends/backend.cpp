#include "backends/backend.hpp"

namespace tether::agent {

void cancellation_token::cancel() {
    {
        // Set under the lock so a waiter cannot miss the notification between
        // checking the flag and starting to wait.
        std::lock_guard lock(mutex_);
        cancelled_.store(true);
    }
    cv_.notify_all();
}

} // namespace tether::agent

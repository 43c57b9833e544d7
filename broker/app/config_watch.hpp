#pragma once
// Keeps a running broker in step with changes to accounts and spaces, wherever
// they were made: through the HTTP admin API, or by the admin CLI in another
// process on the same data directory. The store bumps a version on every such
// change (triggers); this polls it (every 250 ms, and at once when poked) and
// on a change: forgets cached credentials, makes the core's spaces match the
// store's (a rotated token closes the agent that registered with the old one,
// a removed space leaves its agent), cancels the live requests of users that
// were removed or disabled, and ends event streams whose credentials no
// longer hold. It also tells the core to forget requests retention removed.
// Its store reads block, so it runs on a thread of its own.

#include "api/core_access.hpp"
#include "api/stream_registry.hpp"
#include "store/store.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace tether::broker::app {

class config_watch {
  public:
    config_watch(store& st, api::core_access& core, api::stream_registry& streams,
                 std::chrono::milliseconds interval = std::chrono::milliseconds(250));
    ~config_watch();
    config_watch(const config_watch&) = delete;
    config_watch& operator=(const config_watch&) = delete;

    // Starts polling from the store's current state (the core was loaded from it).
    void start();
    void stop();
    // Check now, on the watcher thread (any thread; never blocks).
    void poke();
    // Check now and apply before returning (blocking: the API worker pool
    // calls it after an admin change, so that its answer shows the result).
    void sync_now();

  private:
    void loop();
    void check(); // under check_mu_

    store& store_;
    api::core_access& core_;
    api::stream_registry& streams_;
    const std::chrono::milliseconds interval_;

    std::mutex check_mu_; // one check at a time, in order
    std::uint64_t version_ = 0;
    std::int64_t removed_seq_ = 0;
    bool failed_last_ = false; // the last check could not read the store: retry next time

    std::mutex mu_;
    std::condition_variable cv_;
    bool poked_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

} // namespace tether::broker::app

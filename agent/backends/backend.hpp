#pragma once
// The one seam between the agent's transport and whatever runs inference
// (mock now, torch next, later an HTTP pass-through): a job in, events out
// through a sink. Backends never see sockets, frames or blob numbers, and they
// are never called on the network thread (a worker pool runs them).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace tether::agent {

// An input file of a job: its bytes are in memory or in a file on disk
// (large uploads are spooled to a temporary file that lives as long as the job).
struct input_file {
    std::string field; // form field it came from ("audio", "file", ...)
    std::string name;
    std::string mime;
    std::uint64_t size = 0;
    std::string bytes; // when path is empty
    std::string path;  // when set, the bytes are in this file
};

struct job {
    std::string request_id;
    std::string space;
    std::string username;
    std::string prompt;
    std::string params_json = "{}";
    std::string messages_json; // "" when the request had none
    std::vector<input_file> files;
    // When the broker gives up on the request (it cancels it then); a backend
    // that calls out to something else stops before.
    std::optional<std::chrono::system_clock::time_point> deadline;
};

// Set once by the transport (broker cancel, connection lost, shutdown); a
// backend checks it or waits on it. wait_for returns early when cancelled,
// so a backend's sleeps end at once instead of polling.
class cancellation_token {
  public:
    void cancel();
    bool cancelled() const { return cancelled_.load(); }
    // Waits up to `d`; true when cancelled (before or during the wait).
    template <typename Duration> bool wait_for(Duration d) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, d, [this] { return cancelled_.load(); });
    }

  private:
    std::atomic<bool> cancelled_{false};
    std::mutex mutex_;
    std::condition_variable cv_;
};

// An output file: bytes in memory, or a path the transport reads and sends.
struct output_file {
    std::string name;
    std::string mime;
    std::string bytes;
    std::string path;
};

struct completion {
    std::string output;
    std::optional<double> confidence;
    // Extra members of the result object, as a JSON object text ("{...}"),
    // merged beside output/confidence/files. Empty for none.
    std::string extra_json;
    std::optional<double> inference_ms;
};

// Where a backend reports a job's progress. Calls may come from any worker
// thread; the transport keeps them in order per job. After completed() or
// failed() the job is over and further calls are ignored.
class result_sink {
  public:
    virtual ~result_sink() = default;
    virtual void processing() = 0;
    virtual void delta(std::string text) = 0;
    // Sent to the broker before the completed result that names it.
    virtual void file(output_file f) = 0;
    virtual void completed(completion c) = 0;
    virtual void failed(std::string code, std::string message) = 0;
};

class backend {
  public:
    virtual ~backend() = default;
    virtual std::string name() const = 0;
    // Model names announced at register for `space` (may be empty).
    virtual std::vector<std::string> models(const std::string& space) const = 0;
    // What the broker shows of a language model behind `space` (the OpenAI
    // API's model list, the page's chat view); nullopt for other models.
    struct model_card {
        std::string name;
        std::uint32_t context_length = 0;
        bool chat = false; // has a chat template
        std::string task;  // protocol::model_info's task ("" for a language model)
    };
    virtual std::optional<model_card> card(const std::string& /*space*/) const { return std::nullopt; }
    // Runs one job to its end on the calling (worker) thread. Must finish with
    // exactly one of sink.completed / sink.failed, and should return soon after
    // `cancel` is set (a cancelled job's reports are dropped anyway).
    virtual void run(const job& j, cancellation_token& cancel, result_sink& sink) = 0;
};

} // namespace tether::agent

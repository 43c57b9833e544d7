#pragma once
// The result_sink handed to a backend for one job. It runs on a worker thread
// and turns each report into a backend_event passed to `deliver` (which posts
// it to the connection's strand), in call order. Reports after the first
// terminal one are dropped. It never touches the network itself.

#include "backends/backend.hpp"

#include "tether/protocol/frames.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tether::agent {

// One report of a running job, as the connection receives it.
struct backend_event {
    enum class kind { processing, delta, file, completed, failed } what = kind::processing;
    std::string text; // delta text, or failure code
    std::string message;
    output_file file; // always in memory: a path is read on the worker
    completion done;
};

class job_sink final : public result_sink {
  public:
    using deliver_fn = std::function<void(std::shared_ptr<backend_event>)>;
    // Output files above this many bytes fail the job instead of being sent.
    static constexpr std::uint64_t max_output_file_bytes = 1ULL << 30;

    explicit job_sink(deliver_fn deliver) : deliver_(std::move(deliver)) {}

    void processing() override;
    void delta(std::string text) override;
    void file(output_file f) override;
    void completed(completion c) override;
    void failed(std::string code, std::string message) override;
    // True once completed() or failed() was called.
    bool finished() const { return finished_.load(); }

  private:
    static std::shared_ptr<backend_event> make(backend_event::kind k);
    void post(std::shared_ptr<backend_event> ev);
    void post_terminal(std::shared_ptr<backend_event> ev);

    deliver_fn deliver_;
    std::atomic<bool> finished_{false};
};

// The "result" object of a completed frame: output, confidence, the output
// files sent as blobs, then the backend's extra members. Always valid JSON:
// extra members that are not a valid object are left out (`extra_dropped`).
std::string compose_result_json(const completion& c, const std::vector<protocol::file_ref>& outputs,
                                bool& extra_dropped);

} // namespace tether::agent

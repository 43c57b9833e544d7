#pragma once
// One OpenAI embeddings call in flight: observes its Tether request's events
// (core strand) and, once completed, reads the agent's rows (an output file)
// on the API pool and answers in OpenAI's shape. Answers only once the
// request is durable; a failure is answered as OpenAI's error.

#include "api/core_access.hpp"
#include "api/durable_answer.hpp"
#include "api/embeddings_format.hpp"
#include "net/http_types.hpp"

#include <functional>
#include <memory>
#include <string>

namespace tether::broker {
class blob_store;
}

namespace tether::broker::api {

class embed_run : public durable_answer, public std::enable_shared_from_this<embed_run> {
  public:
    using blocking_runner = std::function<void(std::function<void()>)>;
    embed_run(const uuid& id, const embeddings_request& request, const blob_store& blobs, blocking_runner run_blocking,
              std::shared_ptr<net::http_exchange> ex);

    void on_event(const request_event& e);
    const std::string& model() const { return model_; }

  private:
    void answer_rows(const embeddings_result& r);

    const uuid id_;
    const std::string model_;
    const bool base64_;
    const blob_store& blobs_;
    blocking_runner run_blocking_;
};

} // namespace tether::broker::api

#include "api/embed_run.hpp"

#include "api/chat_run.hpp"
#include "store/blob_store.hpp"

#include "tether/shared/log.hpp"

#include <fstream>

namespace tether::broker::api {

namespace http = boost::beast::http;

namespace {

net::string_response server_error(std::string message) {
    return openai_error_response({http::status::internal_server_error, std::move(message), "server_error", "", "model_error"});
}

} // namespace

embed_run::embed_run(const uuid& id, const embeddings_request& request, const blob_store& blobs, blocking_runner run_blocking,
                     std::shared_ptr<net::http_exchange> ex)
    : durable_answer(std::move(ex)), id_(id), model_(request.model), base64_(request.base64), blobs_(blobs),
      run_blocking_(std::move(run_blocking)) {}

void embed_run::on_event(const request_event& e) {
    std::lock_guard lock(mutex_);
    if (answered_) return;
    if (e.type == "completed") {
        answered_ = true;
        const auto r = read_embeddings_result(e.data_json);
        if (!r.has_file || r.count == 0 || r.dimensions == 0)
            return answer(server_error("The model '" + model_ + "' answered without embeddings."));
        // Reading the rows is disk work: on the API pool, not the core strand.
        run_blocking_([self = shared_from_this(), r] { self->answer_rows(r); });
        return;
    }
    if (e.type == "failed" || e.type == "timeout" || e.type == "cancelled") {
        answered_ = true;
        auto [code, message] = read_event_error(e.data_json);
        answer(openai_error_response(openai_error_for_event(e.type, code, message)));
    }
}

void embed_run::answer_rows(const embeddings_result& r) {
    const auto path = blobs_.output_path(id_, r.blob);
    std::string rows(r.count * r.dimensions * sizeof(float), '\0');
    std::ifstream in(path, std::ios::binary);
    const bool read = in && in.read(rows.data(), static_cast<std::streamsize>(rows.size())) && in.peek() == EOF;
    std::optional<std::string> body;
    if (read) body = embeddings_response_json(r, rows, model_, base64_);
    std::lock_guard lock(mutex_);
    if (!body) {
        log::error("request {}: the embeddings file {} does not hold {} x {} floats", id_.to_string(), path.string(), r.count,
                   r.dimensions);
        return answer(server_error("The embeddings could not be read back."));
    }
    net::string_response res{http::status::ok, 11};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(*body);
    res.prepare_payload();
    answer(std::move(res));
}

} // namespace tether::broker::api

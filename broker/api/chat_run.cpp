#include "api/chat_run.hpp"

#include "api/json_helpers.hpp"

namespace tether::broker::api {

namespace http = boost::beast::http;

chat_run::chat_run(core_access& core, const uuid& id, completion_ids ids, const chat_request& request,
                   std::shared_ptr<net::http_exchange> ex)
    : durable_answer(std::move(ex)), core_(core), id_(id), ids_(std::move(ids)), api_(request.api), stream_(request.stream),
      include_usage_(request.include_usage), filter_(request.stop) {
    if (stream_) {
        out_ = std::make_shared<net::sse_channel>();
        // The role comes first, as OpenAI sends it, so the client sees progress at once.
        if (api_ == openai_api::chat) out_->push(sse_data(chunk_json(ids_, "assistant", "", std::nullopt)));
    }
}

void chat_run::on_event(const request_event& e) {
    std::lock_guard lock(mutex_);
    if (answered_) return;
    if (client_gone()) {
        // The client went away: nobody will read the answer, so free the agent.
        answered_ = true;
        core_.post([id = id_](broker_core& core) { core.cancel(id, "user"); });
        return;
    }
    if (e.type == "delta") {
        auto text = read_delta_text(e.data_json).value_or("");
        received_ += text;
        emit(filter_.push(text));
        // A stop sequence completes the answer; the agent may go on.
        if (filter_.stopped()) finish_ok("stop", "", "");
        return;
    }
    if (e.type == "completed") {
        auto result = read_completed_event(e.data_json);
        // Text the deltas did not carry (a backend that does not stream).
        std::string rest;
        if (received_.empty()) rest = result.output;
        else if (result.output.size() > received_.size() && result.output.starts_with(received_))
            rest = result.output.substr(received_.size());
        emit(filter_.push(rest));
        emit(filter_.finish());
        auto reason = filter_.stopped() || result.finish_reason.empty() ? std::string("stop") : result.finish_reason;
        finish_ok(reason, result.usage_json, result.logprobs_json);
        return;
    }
    if (e.type == "failed" || e.type == "timeout" || e.type == "cancelled") {
        auto [code, message] = read_event_error(e.data_json);
        fail(e.type, code, message);
    }
    // queued, processing, requeued: nothing to tell an OpenAI client.
}

void chat_run::emit(const std::string& text) {
    if (text.empty()) return;
    if (!stream_) content_ += text;
    else if (api_ == openai_api::chat) out_->push(sse_data(chunk_json(ids_, std::nullopt, text, std::nullopt)));
    else out_->push(sse_data(text_chunk_json(ids_, text, std::nullopt)));
}

void chat_run::finish_ok(std::string_view finish_reason, std::string_view usage_json, std::string_view logprobs_json) {
    answered_ = true;
    if (stream_) {
        // The log-probabilities come with the last chunk: the agent reports them at the end.
        if (api_ == openai_api::chat)
            out_->push(sse_data(chunk_json(ids_, std::nullopt, std::nullopt, finish_reason, logprobs_json)));
        else
            out_->push(sse_data(text_chunk_json(ids_, "", finish_reason, logprobs_json)));
        if (include_usage_) out_->push(sse_data(usage_chunk_json(ids_, api_, usage_json)));
        out_->push("data: [DONE]\n\n");
        out_->finish();
        return;
    }
    answer(json_response(http::status::ok, api_ == openai_api::chat
                                                ? completion_json(ids_, content_, finish_reason, usage_json, logprobs_json)
                                                : text_completion_json(ids_, content_, finish_reason, usage_json, logprobs_json)));
}

openai_error openai_error_for_event(std::string_view state, std::string_view code, std::string_view message) {
    openai_error e{http::status::bad_gateway, std::string(message), "server_error", "", std::string(code)};
    if (state == "timeout") {
        e.status = http::status::gateway_timeout;
        e.message = "The request timed out: " + e.message;
    } else if (code == "upstream_timeout") {
        e.status = http::status::gateway_timeout; // the agent's upstream ran out of time
    } else if (code == "bad_input") {
        // The agent refused the request itself (a prompt past the model's
        // context, messages for a model without a chat template, audio it
        // cannot read): the client's to fix, as vLLM answers it.
        e.status = http::status::bad_request;
        e.type = "invalid_request_error";
    } else if (state == "cancelled") {
        e.status = http::status::conflict;
        e.type = "invalid_request_error";
        e.message = "The request was cancelled: " + e.message;
    }
    return e;
}

void chat_run::fail(std::string_view state, std::string_view code, std::string_view message) {
    answered_ = true;
    const openai_error e = openai_error_for_event(state, code, message);
    if (stream_) {
        // The status line is long sent; OpenAI clients raise on an error frame.
        out_->push(sse_data(openai_error_json(e)));
        out_->finish();
        return;
    }
    answer(openai_error_response(e));
}

} // namespace tether::broker::api

#include "api/audio_run.hpp"

#include "api/chat_run.hpp"
#include "api/json_helpers.hpp"

#include "tether/protocol/json_writer.hpp"

namespace tether::broker::api {

namespace http = boost::beast::http;

audio_run::audio_run(core_access& core, const uuid& id, const audio_request& request, std::shared_ptr<net::http_exchange> ex)
    : durable_answer(std::move(ex)), core_(core), id_(id), model_(request.model), format_(request.format),
      stream_(request.stream) {
    if (stream_) out_ = std::make_shared<net::sse_channel>();
}

void audio_run::on_event(const request_event& e) {
    std::lock_guard lock(mutex_);
    if (answered_) return;
    if (client_gone()) {
        answered_ = true; // the client went away: free the agent
        core_.post([id = id_](broker_core& core) { core.cancel(id, "user"); });
        return;
    }
    if (e.type == "delta") {
        auto text = read_delta_text(e.data_json).value_or("");
        received_ += text;
        if (stream_ && !text.empty()) {
            protocol::json_writer w;
            w.begin_object().key("type").value("transcript.text.delta").key("delta").value(text).end_object();
            out_->push(sse_data(w.take()));
        }
        return;
    }
    if (e.type == "completed") {
        answered_ = true;
        const transcript_result t = read_transcript(e.data_json);
        if (stream_) {
            if (received_.empty() && !t.text.empty()) {
                protocol::json_writer w;
                w.begin_object().key("type").value("transcript.text.delta").key("delta").value(t.text).end_object();
                out_->push(sse_data(w.take()));
            }
            protocol::json_writer w;
            w.begin_object().key("type").value("transcript.text.done").key("text").value(t.text);
            w.key("usage").begin_object().key("type").value("duration").key("seconds").value(t.duration).end_object();
            w.end_object();
            out_->push(sse_data(w.take()));
            out_->finish();
            return;
        }
        auto body = format_transcript(t, format_);
        net::string_response res{http::status::ok, 11};
        res.set(http::field::content_type, body.content_type);
        res.set(http::field::cache_control, "no-store");
        res.body() = std::move(body.body);
        res.prepare_payload();
        return answer(std::move(res));
    }
    if (e.type == "failed" || e.type == "timeout" || e.type == "cancelled") {
        answered_ = true;
        auto [code, message] = read_event_error(e.data_json);
        const openai_error err = openai_error_for_event(e.type, code, message);
        if (stream_) {
            out_->push(sse_data(openai_error_json(err)));
            out_->finish();
            return;
        }
        answer(openai_error_response(err));
    }
}

} // namespace tether::broker::api

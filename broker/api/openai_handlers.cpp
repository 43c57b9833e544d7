// The OpenAI-compatible API: GET /v1/models[/{model}], POST
// /v1/chat/completions and POST /v1/completions (plain and streamed), POST
// /v1/embeddings, POST /v1/audio/transcriptions and /v1/audio/translations
// (multipart). A chat completion is an ordinary
// Tether request (same queue, deadline and store); this file translates the
// request in and the request's events out. Errors use OpenAI's shape.
#include "api/api_handler.hpp"
#include "api/audio_run.hpp"
#include "api/chat_run.hpp"
#include "api/embed_run.hpp"
#include "api/json_helpers.hpp"
#include "api/openai_format.hpp"
#include "api/rate_check.hpp"
#include "api/stream_registry.hpp"

#include "tether/shared/log.hpp"

#include <algorithm>

namespace tether::broker::api {

namespace http = boost::beast::http;

namespace {

std::int64_t unix_seconds(time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// The API is for programs: an OpenAI-shaped 401 rather than the page's one.
bool require_caller(api_call& call) {
    if (call.who.signed_in()) return true;
    openai_error e{http::status::unauthorized, "", "invalid_request_error", "", "invalid_api_key"};
    e.message = call.who.bad_credentials ? "Incorrect API key provided."
                                         : "No API key provided: send 'Authorization: Bearer <key>'.";
    auto res = openai_error_response(e);
    res.set(http::field::www_authenticate, "Bearer");
    call.reply(std::move(res));
    return false;
}

openai_error model_not_found(std::string_view model) {
    return openai_error{http::status::not_found, "The model '" + std::string(model) + "' does not exist",
                        "invalid_request_error", "model", "model_not_found"};
}

// Spaces that take a prompt are the models a chat can use; what their agent
// announced of its model (name, context) comes along.
std::vector<model_entry> chat_models(api_services& s) {
    auto spaces = s.core.call([](broker_core& c) { return c.list_spaces(); });
    std::vector<model_entry> out;
    for (const auto& sp : spaces) {
        if ((sp.config.features & feature_prompt) == 0) continue;
        model_entry m{sp.config.name, {}, 0};
        if (sp.model) {
            m.root = sp.model->name;
            m.max_model_len = sp.model->context_length;
        }
        out.push_back(std::move(m));
    }
    return out;
}

void list_models(api_services& s, api_call& call) {
    if (!require_caller(call)) return;
    call.reply(json_response(http::status::ok, models_json(chat_models(s), 0)));
}

void get_model(api_services& s, api_call& call) {
    if (!require_caller(call)) return;
    for (const auto& m : chat_models(s))
        if (m.id == call.params[0]) return call.reply(json_response(http::status::ok, model_json(m, 0)));
    call.reply(openai_error_response(model_not_found(call.params[0])));
}

// Whether `model` may take this call now: the broker not draining, the space
// existing and taking the input (`feature`), the caller within its rate
// limits. The OpenAI-shaped refusal otherwise.
std::optional<net::string_response> admit(api_services& s, api_call& call, const std::string& model, std::uint32_t feature) {
    if (s.draining->load())
        return openai_error_response(
            {http::status::service_unavailable, "The broker is shutting down.", "server_error", "", "draining"});
    auto config = s.core.find_space_config(model);
    if (!config) return openai_error_response(model_not_found(model));
    if ((config->features & feature) == 0) {
        const bool audio = feature == feature_audio;
        return openai_error_response({http::status::bad_request,
                                      "The model '" + model + (audio ? "' does not take audio." : "' does not take text input."),
                                      "invalid_request_error", "model", audio ? "model_not_audio" : "model_not_text"});
    }
    if (auto refused = check_rate_limit(s.limiter, s.latency, call, model)) {
        auto res = openai_error_response({http::status::too_many_requests,
                                          "Rate limit reached for " + std::string(refused->limited_by) + " on model '" +
                                              model + "'. Retry after " + std::to_string(refused->retry_after_s) + " s.",
                                          "requests", "", "rate_limit_exceeded"});
        res.set(http::field::retry_after, std::to_string(refused->retry_after_s));
        return res;
    }
    return std::nullopt;
}

// What a submission's outcome means for the OpenAI answer in flight: go
// ahead once durable, or refuse in OpenAI's shape.
template <class Run> void settle(Run& run, submit_outcome o, bool durable) {
    if (o.status == submit_status::ok && durable) return run.durable();
    switch (o.status) {
    case submit_status::queue_full: {
        auto retry = std::max<std::uint32_t>(1, o.retry_after_s);
        auto res = openai_error_response({http::status::too_many_requests,
                                          "The model's queue is full. Retry after " + std::to_string(retry) + " s.",
                                          "server_error", "", "queue_full"});
        res.set(http::field::retry_after, std::to_string(retry));
        return run.refuse(std::move(res));
    }
    case submit_status::unknown_space:
        return run.refuse(openai_error_response(model_not_found(run.model())));
    case submit_status::duplicate_id:
    case submit_status::ok: {
        auto res = openai_error_response({http::status::service_unavailable,
                                          "The broker cannot store new requests right now (disk full or I/O "
                                          "error); nothing was accepted. Retry later.",
                                          "server_error", "", "store_unavailable"});
        res.set(http::field::retry_after, "5");
        return run.refuse(std::move(res));
    }
    }
}

// POST /v1/chat/completions and /v1/completions: an ordinary request whose
// events chat_run turns into the endpoint's answer.
void openai_completion(api_services& s, api_call& call, openai_api api) {
    if (!require_caller(call)) return;
    openai_error err;
    auto chat = api == openai_api::chat ? parse_chat_request(call.req.msg.body(), err)
                                        : parse_completion_request(call.req.msg.body(), err);
    if (!chat) return call.reply(openai_error_response(err));
    if (auto refusal = admit(s, call, chat->model, feature_prompt)) return call.reply(std::move(*refusal));

    request_record r;
    r.id = uuid::random();
    r.space = chat->model;
    r.username = call.who.user->name;
    r.prompt = chat->prompt;
    r.params_json = chat->params_json;
    r.messages_json = chat->messages_json;
    completion_ids ids{(api == openai_api::chat ? "chatcmpl-" : "cmpl-") + r.id.to_string(),
                       unix_seconds(std::chrono::system_clock::now()), chat->model};
    auto run = std::make_shared<chat_run>(s.core, r.id, std::move(ids), *chat, call.ex);
    if (run->stream_channel() && s.streams != nullptr) s.streams->add(call.who, run->stream_channel(), write_revoked_openai);
    s.core.submit_observed(std::move(r), [run](const request_event& e) { run->on_event(e); },
                           [run](submit_outcome o, bool durable) { settle(*run, o, durable); });
}

// POST /v1/audio/transcriptions and /v1/audio/translations: the form's
// file becomes the request's audio input; audio_run answers in the format asked.
void audio_endpoint(api_services& s, api_call& call, bool translate) {
    if (!require_caller(call)) return;
    if (!call.req.form)
        return call.reply(openai_error_response({http::status::bad_request,
                                                 "Send multipart/form-data with a 'file' and a 'model'.",
                                                 "invalid_request_error", "file", ""}));
    openai_error err;
    auto req = parse_audio_form(call.req.form->fields, translate, err);
    if (!req) return call.reply(openai_error_response(err));
    stored_file* file = nullptr;
    for (auto& f : call.req.form->files) {
        if (f.field != "file" || file != nullptr)
            return call.reply(openai_error_response({http::status::bad_request,
                                                     "Send exactly one file, in the field 'file'.",
                                                     "invalid_request_error", "file", ""}));
        file = &f;
    }
    if (file == nullptr || file->size == 0)
        return call.reply(openai_error_response({http::status::bad_request,
                                                 file == nullptr ? "You must provide a file." : "The file is empty.",
                                                 "invalid_request_error", "file", ""}));
    if (auto refusal = admit(s, call, req->model, feature_audio)) return call.reply(std::move(*refusal));
    request_record r;
    r.id = uuid::random();
    r.space = req->model;
    r.username = call.who.user->name;
    r.params_json = req->params_json;
    std::error_code ec;
    auto dest = s.blobs.adopt_input(r.id, file->blob, file->path, ec);
    if (ec) {
        log::error("cannot move upload {} to {}: {}", file->path, dest.string(), ec.message());
        s.blobs.remove_request(r.id);
        return call.reply(openai_error_response(
            {http::status::internal_server_error, "The upload could not be stored.", "server_error", "", "internal"}));
    }
    file->path = dest.string();
    file->field = "audio"; // what the agent reads an audio space's upload from
    r.inputs.push_back(*file);
    call.req.form->adopted = true;
    auto run = std::make_shared<audio_run>(s.core, r.id, *req, call.ex);
    if (run->stream_channel() && s.streams != nullptr) s.streams->add(call.who, run->stream_channel(), write_revoked_openai);
    const blob_store* blobs = &s.blobs;
    const uuid id = r.id;
    s.core.submit_observed(std::move(r), [run](const request_event& e) { run->on_event(e); },
                           [run, blobs, id](submit_outcome o, bool durable) {
        if (!(o.status == submit_status::ok && durable)) blobs->remove_request(id);
        settle(*run, o, durable);
    });
}

// POST /v1/embeddings: the texts go to the agent as params.input; embed_run
// answers from the rows it sends back.
void embeddings(api_services& s, api_call& call) {
    if (!require_caller(call)) return;
    openai_error err;
    auto req = parse_embeddings_request(call.req.msg.body(), err);
    if (!req) return call.reply(openai_error_response(err));
    if (auto refusal = admit(s, call, req->model, feature_prompt)) return call.reply(std::move(*refusal));
    // A connected agent that said what its model does answers at once when it makes no embeddings.
    if (auto task = s.core.call([m = req->model](broker_core& c) -> std::optional<std::string> {
            auto view = c.view_space(m);
            return view && view->model ? std::optional<std::string>(view->model->task) : std::nullopt;
        });
        task && *task != "embeddings")
        return call.reply(openai_error_response({http::status::bad_request,
                                                 "The model '" + req->model + "' does not make embeddings" +
                                                     (task->empty() ? "" : " (it serves " + *task + ")") + ".",
                                                 "invalid_request_error", "model", "model_not_embeddings"}));
    request_record r;
    r.id = uuid::random();
    r.space = req->model;
    r.username = call.who.user->name;
    r.params_json = req->params_json;
    auto run = std::make_shared<embed_run>(r.id, *req, s.blobs, s.run_blocking, call.ex);
    s.core.submit_observed(std::move(r), [run](const request_event& e) { run->on_event(e); },
                           [run](submit_outcome o, bool durable) { settle(*run, o, durable); });
}

void transcriptions(api_services& s, api_call& call) { audio_endpoint(s, call, false); }
void translations(api_services& s, api_call& call) { audio_endpoint(s, call, true); }

void chat_completions(api_services& s, api_call& call) {
    openai_completion(s, call, openai_api::chat);
}

void completions(api_services& s, api_call& call) {
    openai_completion(s, call, openai_api::completions);
}

} // namespace

void add_openai_routes(router& r) {
    // Authorisation is checked by the handlers, so that its errors are OpenAI-shaped.
    r.add(http::verb::get, "/v1/models", access::anyone, list_models);
    r.add(http::verb::get, "/v1/models/{model}", access::anyone, get_model);
    // Never blocks (the space's config comes from the core's copy, the answer
    // from the request's events): runs on the io thread when the key is cached.
    r.add_non_blocking(http::verb::post, "/v1/chat/completions", access::anyone, chat_completions);
    r.add_non_blocking(http::verb::post, "/v1/completions", access::anyone, completions);
    // Not on the io thread: it asks the core what the space's model does.
    r.add(http::verb::post, "/v1/embeddings", access::anyone, embeddings);
    // Uploads: moving the file is disk work, so these run on the pool.
    r.add(http::verb::post, "/v1/audio/transcriptions", access::anyone, transcriptions);
    r.add(http::verb::post, "/v1/audio/translations", access::anyone, translations);
}

} // namespace tether::broker::api

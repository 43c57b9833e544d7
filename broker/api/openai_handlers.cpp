// The OpenAI-compatible surface: GET /v1/models (one model per space that
// takes a prompt) and POST /v1/chat/completions (model = space). Parsing and
// shapes live in openai_format, following the request in chat_run; this file
// only authorises, rate-limits and submits.
#include "api/api_handler.hpp"
#include "api/chat_run.hpp"
#include "api/json_helpers.hpp"
#include "api/openai_format.hpp"
#include "api/rate_check.hpp"

#include <chrono>

namespace tether::broker::api {

namespace http = boost::beast::http;

namespace {

std::int64_t unix_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

net::string_response openai_fail(http::status status, std::string message, std::string type, std::string code) {
    openai_error e;
    e.status = status;
    e.message = std::move(message);
    e.type = std::move(type);
    e.code = std::move(code);
    return openai_error_response(e);
}

void models(api_services& s, api_call& call) {
    auto spaces = s.core.call([](broker_core& c) { return c.list_spaces(); });
    std::vector<std::string> names;
    for (const auto& sp : spaces)
        if ((sp.config.features & feature_prompt) != 0) names.push_back(sp.config.name);
    call.reply(json_response(http::status::ok, models_json(names, 0)));
}

void chat_completions(api_services& s, api_call& call) {
    if (s.draining->load())
        return call.reply(openai_fail(http::status::service_unavailable, "The broker is shutting down", "server_error",
                                      "draining"));
    openai_error err;
    auto chat = parse_chat_request(call.req.msg.body(), err);
    if (!chat) return call.reply(openai_error_response(err));

    auto config = s.core.call([&](broker_core& c) -> std::optional<space_config> {
        if (const auto* sp = c.find_space(chat->model)) return *sp;
        return std::nullopt;
    });
    if (!config || (config->features & feature_prompt) == 0)
        return call.reply(openai_fail(http::status::not_found, "The model '" + chat->model + "' does not exist",
                                      "invalid_request_error", "model_not_found"));
    if (auto refused = check_rate_limit(s.limiter, s.latency, call, chat->model)) {
        auto res = openai_fail(http::status::too_many_requests, "Rate limit reached; retry later", "requests",
                               "rate_limit_exceeded");
        res.set(http::field::retry_after, std::to_string(refused->retry_after_s));
        return call.reply(std::move(res));
    }

    request_record r;
    r.id = uuid::random();
    r.space = chat->model;
    r.username = call.who.user->name;
    r.prompt = chat->prompt;
    r.params_json = chat->params_json.empty() ? "{}" : chat->params_json;
    r.messages_json = chat->messages_json;

    completion_ids ids{"chatcmpl-" + r.id.to_string(), unix_seconds(), chat->model};
    auto run = std::make_shared<chat_run>(s.core, r.id, std::move(ids), chat->stream, std::move(chat->stop), call.ex);
    s.core.submit_observed(std::move(r), [run](const request_event& e) { run->on_event(e); },
                           [run](submit_outcome o, bool durable) {
                               if (o.status == submit_status::ok && durable) return run->durable();
                               if (o.status == submit_status::queue_full) {
                                   auto res = openai_fail(http::status::too_many_requests, "The model's queue is full",
                                                          "requests", "queue_full");
                                   res.set(http::field::retry_after,
                                           std::to_string(std::max<std::uint32_t>(1, o.retry_after_s)));
                                   return run->refuse(std::move(res));
                               }
                               if (o.status == submit_status::unknown_space)
                                   return run->refuse(openai_fail(http::status::not_found, "No such model",
                                                                  "invalid_request_error", "model_not_found"));
                               run->refuse(openai_fail(http::status::service_unavailable,
                                                       "The request could not be stored", "server_error",
                                                       "store_failed"));
                           });
}

} // namespace

void add_openai_routes(router& r) {
    r.add(http::verb::get, "/v1/models", access::user, models);
    r.add(http::verb::post, "/v1/chat/completions", access::user, chat_completions);
}

} // namespace tether::broker::api

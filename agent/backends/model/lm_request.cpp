#include "backends/model/lm_request.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <cmath>

namespace tether::agent {
namespace {

template <typename T> prepared<T> refuse(std::string message) {
    return {std::nullopt, input_error{"bad_input", std::move(message)}};
}

// Reads params.<key> when present and not null.
struct param_reader {
    simdjson::dom::object params;
    std::string error;

    bool present(std::string_view key, simdjson::dom::element& e) const {
        return params.at_key(key).get(e) == simdjson::SUCCESS && !e.is_null();
    }
    bool number(std::string_view key, double lo, double hi, bool lo_open, std::optional<double>& out) {
        simdjson::dom::element e;
        if (!present(key, e)) return true;
        double d = 0;
        if (e.get(d) != simdjson::SUCCESS || !std::isfinite(d) || (lo_open ? !(d > lo) : d < lo) || d > hi) {
            error = fmt::format("params.{}: expected a number {} {} and at most {}", key, lo_open ? "above" : "from", lo, hi);
            return false;
        }
        out = d;
        return true;
    }
    bool whole(std::string_view key, std::int64_t lo, std::int64_t hi, std::optional<std::int64_t>& out) {
        simdjson::dom::element e;
        if (!present(key, e)) return true;
        double d = 0;
        if (e.get(d) != simdjson::SUCCESS || std::floor(d) != d || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
            error = fmt::format("params.{}: expected a whole number from {} to {}", key, lo, hi);
            return false;
        }
        out = static_cast<std::int64_t>(d);
        return true;
    }
    bool boolean(std::string_view key, std::optional<bool>& out) {
        simdjson::dom::element e;
        if (!present(key, e)) return true;
        bool b = false;
        if (e.get(b) != simdjson::SUCCESS) {
            error = fmt::format("params.{}: expected true or false", key);
            return false;
        }
        out = b;
        return true;
    }
};

} // namespace

prepared<lm_generation> prepare_lm_generation(const job& j, const text::model_text& text, const lm_request_limits& limits,
                                              std::uint64_t random_seed) {
    lm_generation g;
    const auto& tok = text.tokens();
    // The prompt.
    try {
        if (!j.messages_json.empty()) {
            if (text.chat() == nullptr)
                return refuse<lm_generation>("this model has no chat template (tokenizer_config.json chat_template or "
                                             "chat_template.jinja), so it cannot take messages; send a prompt instead");
            if (j.messages_json.size() > limits.max_prompt_bytes)
                return refuse<lm_generation>(fmt::format("the messages are over {} bytes", limits.max_prompt_bytes));
            const std::string rendered = text.render_chat_json(j.messages_json, true);
            g.prompt = {};
            for (auto id : tok.encode(rendered, false)) g.prompt.push_back(id); // the template wrote its special tokens
            g.chat = true;
        } else {
            if (j.prompt.empty()) return refuse<lm_generation>("this model needs a prompt, and the prompt is empty");
            if (j.prompt.size() > limits.max_prompt_bytes)
                return refuse<lm_generation>(fmt::format("the prompt is {} bytes, over the limit of {}", j.prompt.size(),
                                                         limits.max_prompt_bytes));
            for (auto id : tok.encode(j.prompt, true)) g.prompt.push_back(id);
        }
    } catch (const text::chat_refused& e) {
        return refuse<lm_generation>(e.what());
    } catch (const text::text_error& e) {
        return refuse<lm_generation>(e.what());
    }
    if (g.prompt.empty()) return refuse<lm_generation>("the prompt encodes to no tokens");
    if (g.prompt.size() >= limits.context)
        return refuse<lm_generation>(fmt::format("the prompt is {} tokens; this model's context is {} (prompt and "
                                                 "answer together)",
                                                 g.prompt.size(), limits.context));

    // Defaults: generation_config.json, then the OpenAI defaults.
    const auto& d = text.defaults();
    if (d.do_sample && !*d.do_sample) g.sampling.temperature = 0;
    else if (d.temperature) g.sampling.temperature = *d.temperature;
    if (d.top_p) g.sampling.top_p = *d.top_p;
    if (d.top_k && *d.top_k > 0) g.sampling.top_k = static_cast<std::uint32_t>(*d.top_k);
    if (d.repetition_penalty) g.sampling.repetition_penalty = *d.repetition_penalty;
    const auto room = static_cast<std::uint32_t>(limits.context - g.prompt.size());
    g.max_tokens = std::min(room, limits.default_max_tokens);
    if (d.max_new_tokens && *d.max_new_tokens > 0) g.max_tokens = std::min<std::uint32_t>(room, static_cast<std::uint32_t>(*d.max_new_tokens));
    g.seed = random_seed;

    simdjson::dom::parser parser;
    const simdjson::padded_string padded(j.params_json.empty() ? std::string_view("{}") : std::string_view(j.params_json));
    param_reader r;
    if (parser.parse(padded).get(r.params) != simdjson::SUCCESS) return refuse<lm_generation>("params: expected a JSON object");

    std::optional<std::int64_t> max_tokens, max_completion, top_k, seed, top_logprobs;
    std::optional<double> temperature, top_p, min_p, presence, frequency, repetition;
    std::optional<bool> ignore_eos;
    const auto vocab = static_cast<std::int64_t>(tok.vocab_size());
    if (!r.whole("max_tokens", 1, 1 << 24, max_tokens) || !r.whole("max_completion_tokens", 1, 1 << 24, max_completion) ||
        !r.number("temperature", 0, 2, false, temperature) || !r.number("top_p", 0, 1, true, top_p) ||
        !r.whole("top_k", -1, vocab, top_k) || !r.number("min_p", 0, 1, false, min_p) ||
        !r.whole("seed", std::numeric_limits<std::int64_t>::min() / 2, std::numeric_limits<std::int64_t>::max() / 2, seed) ||
        !r.number("presence_penalty", -2, 2, false, presence) || !r.number("frequency_penalty", -2, 2, false, frequency) ||
        !r.number("repetition_penalty", 0, 10, true, repetition) || !r.boolean("ignore_eos", ignore_eos) ||
        !r.whole("top_logprobs", 0, 20, top_logprobs))
        return refuse<lm_generation>(r.error);
    if (max_completion) max_tokens = max_completion;
    if (max_tokens) {
        if (*max_tokens > room)
            return refuse<lm_generation>(fmt::format("params.max_tokens: {} with a prompt of {} tokens is past this "
                                                     "model's context of {} (at most {})",
                                                     *max_tokens, g.prompt.size(), limits.context, room));
        g.max_tokens = static_cast<std::uint32_t>(*max_tokens);
    }
    if (temperature) g.sampling.temperature = *temperature;
    if (top_p) g.sampling.top_p = *top_p;
    if (top_k) g.sampling.top_k = *top_k <= 0 ? 0 : static_cast<std::uint32_t>(*top_k);
    if (min_p) g.sampling.min_p = *min_p;
    if (presence) g.sampling.presence_penalty = *presence;
    if (frequency) g.sampling.frequency_penalty = *frequency;
    if (repetition) g.sampling.repetition_penalty = *repetition;
    if (seed) g.seed = static_cast<std::uint64_t>(*seed);
    if (ignore_eos) g.ignore_eos = *ignore_eos;

    // logprobs: true/false (chat) with top_logprobs, or a number (completions) of alternatives.
    simdjson::dom::element e;
    if (r.present("logprobs", e)) {
        bool b = false;
        std::int64_t n = 0;
        if (e.get(b) == simdjson::SUCCESS) {
            g.logprobs = b;
        } else if (e.get(n) == simdjson::SUCCESS && n >= 0 && n <= 20) {
            g.logprobs = true;
            g.sampling.top_logprobs = static_cast<std::uint32_t>(n);
        } else {
            return refuse<lm_generation>("params.logprobs: expected true, false or a whole number from 0 to 20");
        }
    }
    if (top_logprobs) {
        if (!g.logprobs && *top_logprobs > 0) return refuse<lm_generation>("params.top_logprobs needs params.logprobs true");
        g.sampling.top_logprobs = static_cast<std::uint32_t>(*top_logprobs);
    }
    if (r.present("stop", e)) {
        std::vector<std::string> stops;
        std::string_view s;
        simdjson::dom::array arr;
        if (e.get(s) == simdjson::SUCCESS) {
            stops.emplace_back(s);
        } else if (e.get(arr) == simdjson::SUCCESS) {
            for (auto item : arr) {
                if (item.get(s) != simdjson::SUCCESS) return refuse<lm_generation>("params.stop: expected strings");
                stops.emplace_back(s);
            }
        } else {
            return refuse<lm_generation>("params.stop: expected a string or an array of strings");
        }
        if (stops.size() > limits.max_stop)
            return refuse<lm_generation>(fmt::format("params.stop: at most {} stop strings", limits.max_stop));
        for (const auto& st : stops)
            if (st.empty() || st.size() > limits.max_stop_bytes)
                return refuse<lm_generation>(fmt::format("params.stop: each stop string has 1 to {} bytes", limits.max_stop_bytes));
        g.stop = std::move(stops);
    }
    if (r.present("stop_token_ids", e)) {
        simdjson::dom::array arr;
        if (e.get(arr) != simdjson::SUCCESS || arr.size() > limits.max_stop_token_ids)
            return refuse<lm_generation>(fmt::format("params.stop_token_ids: expected an array of at most {} ids",
                                                     limits.max_stop_token_ids));
        for (auto item : arr) {
            std::int64_t id = 0;
            if (item.get(id) != simdjson::SUCCESS || id < 0 || id >= vocab)
                return refuse<lm_generation>(fmt::format("params.stop_token_ids: ids run from 0 to {}", vocab - 1));
            g.stop_token_ids.insert(id);
        }
    }
    return {std::move(g), {}};
}

} // namespace tether::agent

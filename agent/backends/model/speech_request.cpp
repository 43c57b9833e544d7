#include "backends/model/speech_request.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <cmath>

namespace tether::agent {
namespace {

template <typename T> prepared<T> refuse(std::string message) {
    return {std::nullopt, input_error{"bad_input", std::move(message)}};
}

std::string known_languages(const hf::whisper_tokens& t) {
    std::string out;
    for (std::size_t i = 0; i < t.language_codes.size() && i < 12; ++i) out += (i ? ", " : "") + t.language_codes[i];
    if (t.language_codes.size() > 12) out += fmt::format(", … ({} in all)", t.language_codes.size());
    return out;
}

} // namespace

prepared<speech_request> prepare_speech(const job& j, const hf::whisper_config& config, const speech_limits& limits,
                                        std::uint64_t random_seed) {
    speech_request r;
    r.options.seed = random_seed;
    const bool multilingual = config.generation.is_multilingual;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(j.params_json).get(root) || !root.is_object()) return refuse<speech_request>("params: expected a JSON object");
    simdjson::dom::object params = root.get_object().value_unsafe();
    auto present = [&](std::string_view key, simdjson::dom::element& e) {
        return params.at_key(key).get(e) == simdjson::SUCCESS && !e.is_null();
    };
    simdjson::dom::element e;
    if (present("language", e)) {
        std::string_view code;
        if (e.get(code)) return refuse<speech_request>("params.language: expected a language code such as \"en\"");
        std::string lower(code);
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!lower.empty() && lower != "auto") {
            if (!multilingual) {
                if (lower != "en")
                    return refuse<speech_request>(fmt::format("params.language: this model transcribes English only, not \"{}\"", code));
            } else if (auto id = config.tokens.language_id(lower)) {
                r.options.language = *id;
            } else {
                return refuse<speech_request>(fmt::format("params.language: \"{}\" is not a language this model knows ({})",
                                                          code, known_languages(config.tokens)));
            }
        }
    }
    if (present("task", e)) {
        std::string_view task;
        if (e.get(task) || (task != "transcribe" && task != "translate"))
            return refuse<speech_request>("params.task: expected \"transcribe\" or \"translate\"");
        r.options.translate = task == "translate";
        if (r.options.translate && !multilingual)
            return refuse<speech_request>("params.task: this model is English-only and cannot translate");
    }
    if (present("timestamps", e)) {
        bool b = true;
        if (e.get(b)) return refuse<speech_request>("params.timestamps: expected true or false");
        r.options.timestamps = b;
    }
    if (present("temperature", e)) {
        double t = 0;
        if (e.get(t) || !std::isfinite(t) || t < 0 || t > 2)
            return refuse<speech_request>("params.temperature: expected a number from 0 to 2");
        r.options.temperature = static_cast<float>(t);
    }
    if (present("seed", e)) {
        double s = 0;
        if (e.get(s) || std::floor(s) != s || s < 0 || s > 9007199254740992.0)
            return refuse<speech_request>("params.seed: expected a whole number from 0 to 2^53");
        r.options.seed = static_cast<std::uint64_t>(s);
    }
    if (present("prompt", e)) {
        std::string_view p;
        if (e.get(p)) return refuse<speech_request>("params.prompt: expected a string");
        r.prompt = std::string(p);
    } else {
        r.prompt = j.prompt;
    }
    if (r.prompt.size() > limits.max_prompt_bytes)
        return refuse<speech_request>(fmt::format("the prompt is {} bytes, over the limit of {}", r.prompt.size(), limits.max_prompt_bytes));

    model_spec spec;
    spec.task = model_task::audio;
    spec.sample_rate = config.frontend.sampling_rate;
    spec.max_seconds = limits.max_seconds;
    // The largest WAV of max_seconds a recorder writes by default: 48 kHz stereo 16-bit.
    spec.max_input_bytes = static_cast<std::uint64_t>(limits.max_seconds) * 48000 * 2 * 2 + (1U << 20);
    auto clip = prepare_audio(j, spec);
    if (!clip.ok()) return {std::nullopt, clip.error};
    r.audio = std::move(*clip.value);
    return {std::move(r), {}};
}

} // namespace tether::agent

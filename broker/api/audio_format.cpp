#include "api/audio_format.hpp"

#include "tether/protocol/json_writer.hpp"

#include <simdjson.h>

#include <array>
#include <cmath>
#include <cstdio>

namespace tether::broker::api {
namespace {

namespace http = boost::beast::http;

openai_error invalid(std::string message, std::string param, std::string code = {}) {
    return openai_error{http::status::bad_request, std::move(message), "invalid_request_error", std::move(param),
                        std::move(code)};
}

// Whisper's language table (code, name), in its token order.
constexpr std::array<std::pair<std::string_view, std::string_view>, 100> languages{{
    {"en", "english"}, {"zh", "chinese"}, {"de", "german"}, {"es", "spanish"}, {"ru", "russian"}, {"ko", "korean"},
    {"fr", "french"}, {"ja", "japanese"}, {"pt", "portuguese"}, {"tr", "turkish"}, {"pl", "polish"}, {"ca", "catalan"},
    {"nl", "dutch"}, {"ar", "arabic"}, {"sv", "swedish"}, {"it", "italian"}, {"id", "indonesian"}, {"hi", "hindi"},
    {"fi", "finnish"}, {"vi", "vietnamese"}, {"he", "hebrew"}, {"uk", "ukrainian"}, {"el", "greek"}, {"ms", "malay"},
    {"cs", "czech"}, {"ro", "romanian"}, {"da", "danish"}, {"hu", "hungarian"}, {"ta", "tamil"}, {"no", "norwegian"},
    {"th", "thai"}, {"ur", "urdu"}, {"hr", "croatian"}, {"bg", "bulgarian"}, {"lt", "lithuanian"}, {"la", "latin"},
    {"mi", "maori"}, {"ml", "malayalam"}, {"cy", "welsh"}, {"sk", "slovak"}, {"te", "telugu"}, {"fa", "persian"},
    {"lv", "latvian"}, {"bn", "bengali"}, {"sr", "serbian"}, {"az", "azerbaijani"}, {"sl", "slovenian"},
    {"kn", "kannada"}, {"et", "estonian"}, {"mk", "macedonian"}, {"br", "breton"}, {"eu", "basque"},
    {"is", "icelandic"}, {"hy", "armenian"}, {"ne", "nepali"}, {"mn", "mongolian"}, {"bs", "bosnian"},
    {"kk", "kazakh"}, {"sq", "albanian"}, {"sw", "swahili"}, {"gl", "galician"}, {"mr", "marathi"}, {"pa", "punjabi"},
    {"si", "sinhala"}, {"km", "khmer"}, {"sn", "shona"}, {"yo", "yoruba"}, {"so", "somali"}, {"af", "afrikaans"},
    {"oc", "occitan"}, {"ka", "georgian"}, {"be", "belarusian"}, {"tg", "tajik"}, {"sd", "sindhi"},
    {"gu", "gujarati"}, {"am", "amharic"}, {"yi", "yiddish"}, {"lo", "lao"}, {"uz", "uzbek"}, {"fo", "faroese"},
    {"ht", "haitian creole"}, {"ps", "pashto"}, {"tk", "turkmen"}, {"nn", "nynorsk"}, {"mt", "maltese"},
    {"sa", "sanskrit"}, {"lb", "luxembourgish"}, {"my", "myanmar"}, {"bo", "tibetan"}, {"tl", "tagalog"},
    {"mg", "malagasy"}, {"as", "assamese"}, {"tt", "tatar"}, {"haw", "hawaiian"}, {"ln", "lingala"},
    {"ha", "hausa"}, {"ba", "bashkir"}, {"jw", "javanese"}, {"su", "sundanese"}, {"yue", "cantonese"},
}};

std::optional<double> number_field(const std::map<std::string, std::string>& f, const std::string& key, bool& bad) {
    auto it = f.find(key);
    if (it == f.end() || it->second.empty()) return std::nullopt;
    char* end = nullptr;
    const double v = std::strtod(it->second.c_str(), &end);
    if (end == it->second.c_str() || *end != '\0' || !std::isfinite(v)) bad = true;
    return v;
}

std::string trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\n')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.remove_suffix(1);
    return std::string(s);
}

} // namespace

std::string language_name(std::string_view code) {
    for (const auto& [c, name] : languages)
        if (c == code) return std::string(name);
    return std::string(code);
}

std::optional<audio_request> parse_audio_form(const std::map<std::string, std::string>& f, bool translate,
                                              openai_error& error) {
    audio_request r;
    r.translate = translate;
    auto field = [&](const std::string& key) -> const std::string* {
        auto it = f.find(key);
        return it == f.end() ? nullptr : &it->second;
    };
    const std::string* model = field("model");
    if (model == nullptr || model->empty()) {
        error = invalid("you must provide a model parameter", "model");
        return std::nullopt;
    }
    r.model = *model;
    protocol::json_writer w;
    w.begin_object().key("task").value(translate ? "translate" : "transcribe");
    if (const std::string* lang = field("language"); lang != nullptr && !lang->empty()) {
        if (translate) {
            error = invalid("translations take no language: the audio is translated into English", "language");
            return std::nullopt;
        }
        bool ok = lang->size() >= 2 && lang->size() <= 3;
        for (char c : *lang) ok = ok && c >= 'a' && c <= 'z';
        if (!ok) {
            error = invalid("language must be an ISO-639-1 code such as \"en\"", "language");
            return std::nullopt;
        }
        w.key("language").value(*lang);
    }
    if (const std::string* prompt = field("prompt"); prompt != nullptr && !prompt->empty()) {
        if (prompt->size() > 16384) {
            error = invalid("prompt is longer than 16384 bytes", "prompt");
            return std::nullopt;
        }
        w.key("prompt").value(*prompt);
    }
    bool bad = false;
    if (auto t = number_field(f, "temperature", bad); bad || (t && (*t < 0 || *t > 1))) {
        error = invalid("temperature must be a number from 0 to 1", "temperature");
        return std::nullopt;
    } else if (t) {
        w.key("temperature").value(*t);
    }
    for (const char* key : {"timestamp_granularities[]", "timestamp_granularities"}) {
        const std::string* g = field(key);
        if (g == nullptr || g->empty()) continue;
        if (*g != "segment") {
            error = invalid(*g == "word" ? "word timestamps are not supported; use timestamp_granularities[]=segment"
                                         : "timestamp_granularities must be segment",
                            "timestamp_granularities");
            return std::nullopt;
        }
    }
    w.key("timestamps").value(true).end_object();
    r.params_json = w.take();
    if (const std::string* fmt = field("response_format"); fmt != nullptr && !fmt->empty()) {
        if (*fmt == "json") r.format = transcript_format::json;
        else if (*fmt == "text") r.format = transcript_format::text;
        else if (*fmt == "verbose_json") r.format = transcript_format::verbose_json;
        else if (*fmt == "srt") r.format = transcript_format::srt;
        else if (*fmt == "vtt") r.format = transcript_format::vtt;
        else {
            error = invalid("response_format must be json, text, verbose_json, srt or vtt", "response_format");
            return std::nullopt;
        }
    }
    if (const std::string* s = field("stream"); s != nullptr && !s->empty()) {
        if (*s != "true" && *s != "false") {
            error = invalid("stream must be true or false", "stream");
            return std::nullopt;
        }
        r.stream = *s == "true";
        if (r.stream && r.format != transcript_format::json && r.format != transcript_format::text) {
            error = invalid("stream is supported with response_format json or text", "stream");
            return std::nullopt;
        }
    }
    return r;
}

transcript_result read_transcript(std::string_view data_json) {
    transcript_result t;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(data_json.data(), data_json.size()).get(doc)) return t;
    simdjson::dom::object r;
    if (doc["result"].get_object().get(r)) return t;
    std::string_view s;
    double d = 0;
    if (!r["output"].get_string().get(s)) t.text = trimmed(s);
    if (!r["task"].get_string().get(s)) t.task = std::string(s);
    if (!r["language"].get_string().get(s)) t.language = std::string(s);
    if (!r["duration"].get_double().get(d)) t.duration = d;
    if (!r["temperature"].get_double().get(d)) t.temperature = d;
    simdjson::dom::array segs;
    if (r["segments"].get_array().get(segs)) return t;
    for (auto e : segs) {
        simdjson::dom::object o;
        if (e.get_object().get(o)) continue;
        transcript_segment g;
        g.id = static_cast<std::int64_t>(t.segments.size());
        std::int64_t i = 0;
        if (!o["seek"].get_int64().get(i)) g.seek = i;
        if (!o["start"].get_double().get(d)) g.start = d;
        if (!o["end"].get_double().get(d)) g.end = d;
        if (!o["text"].get_string().get(s)) g.text = std::string(s);
        simdjson::dom::array tokens;
        if (!o["tokens"].get_array().get(tokens)) g.tokens_json = simdjson::minify(tokens);
        if (!o["avg_logprob"].get_double().get(d)) g.avg_logprob = d;
        if (!o["compression_ratio"].get_double().get(d)) g.compression_ratio = d;
        if (!o["no_speech_prob"].get_double().get(d)) g.no_speech_prob = d;
        t.segments.push_back(std::move(g));
    }
    return t;
}

std::string subtitle_time(double seconds, char separator) {
    const auto ms = static_cast<std::int64_t>(std::llround(std::max(seconds, 0.0) * 1000.0));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld%c%03lld", static_cast<long long>(ms / 3600000),
                  static_cast<long long>(ms / 60000 % 60), static_cast<long long>(ms / 1000 % 60), separator,
                  static_cast<long long>(ms % 1000));
    return buf;
}

transcript_body format_transcript(const transcript_result& t, transcript_format format) {
    switch (format) {
    case transcript_format::text: return {t.text + "\n", "text/plain; charset=utf-8"};
    case transcript_format::srt: {
        std::string out;
        for (std::size_t i = 0; i < t.segments.size(); ++i) {
            const auto& s = t.segments[i];
            out += std::to_string(i + 1) + "\n" + subtitle_time(s.start, ',') + " --> " + subtitle_time(s.end, ',') + "\n" +
                   trimmed(s.text) + "\n\n";
        }
        return {out, "text/plain; charset=utf-8"};
    }
    case transcript_format::vtt: {
        std::string out = "WEBVTT\n\n";
        for (const auto& s : t.segments)
            out += subtitle_time(s.start, '.') + " --> " + subtitle_time(s.end, '.') + "\n" + trimmed(s.text) + "\n\n";
        return {out, "text/vtt; charset=utf-8"};
    }
    case transcript_format::verbose_json: {
        protocol::json_writer w;
        w.begin_object().key("task").value(t.task).key("language").value(language_name(t.language));
        w.key("duration").value(t.duration).key("text").value(t.text).key("segments").begin_array();
        for (const auto& s : t.segments) {
            w.begin_object().key("id").value(s.id).key("seek").value(s.seek).key("start").value(s.start).key("end").value(s.end);
            w.key("text").value(s.text).key("tokens").raw(s.tokens_json).key("temperature").value(t.temperature);
            w.key("avg_logprob").value(s.avg_logprob).key("compression_ratio").value(s.compression_ratio);
            w.key("no_speech_prob").value(s.no_speech_prob).end_object();
        }
        w.end_array();
        w.key("usage").begin_object().key("type").value("duration").key("seconds").value(static_cast<std::int64_t>(std::ceil(t.duration))).end_object();
        w.end_object();
        return {w.take() + "\n", "application/json"};
    }
    case transcript_format::json: break;
    }
    protocol::json_writer w;
    w.begin_object().key("text").value(t.text);
    w.key("usage").begin_object().key("type").value("duration").key("seconds").value(static_cast<std::int64_t>(std::ceil(t.duration))).end_object();
    w.end_object();
    return {w.take() + "\n", "application/json"};
}

} // namespace tether::broker::api

#pragma once
// OpenAI's audio endpoints' wire shapes (/v1/audio/transcriptions and
// /v1/audio/translations): the multipart form's fields read into a Tether
// request's params, and a finished transcript (the agent's result: text,
// language, duration, segments) written as json, text, verbose_json, srt or
// vtt. Pure parsing and formatting; no I/O.

#include "api/openai_format.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::broker::api {

enum class transcript_format { json, text, verbose_json, srt, vtt };

struct audio_request {
    std::string model;
    std::string params_json; // {"task","language","prompt","temperature","timestamps"} for the agent
    transcript_format format = transcript_format::json;
    bool translate = false;
    bool stream = false;
};

// Reads the form's text fields; nullopt and `error` set when they are not a
// request we can serve. The file itself is checked by the handler.
std::optional<audio_request> parse_audio_form(const std::map<std::string, std::string>& fields, bool translate,
                                              openai_error& error);

struct transcript_segment {
    std::int64_t id = 0;
    std::int64_t seek = 0;
    double start = 0, end = 0;
    std::string text;
    std::string tokens_json = "[]";
    double avg_logprob = 0, compression_ratio = 0, no_speech_prob = 0;
};

struct transcript_result {
    std::string text;
    std::string task = "transcribe";
    std::string language; // the agent's code ("en"), "" when not given
    double duration = 0;
    double temperature = 0;
    std::vector<transcript_segment> segments;
};

// The completed event's result object (as the agent sent it).
transcript_result read_transcript(std::string_view completed_event_json);

// Whisper's name of a language code ("en" -> "english"); the code itself when unknown.
std::string language_name(std::string_view code);

// "HH:MM:SS,mmm" (srt) or "HH:MM:SS.mmm" (vtt).
std::string subtitle_time(double seconds, char separator);

// The response body and its content type.
struct transcript_body {
    std::string body;
    std::string content_type;
};
transcript_body format_transcript(const transcript_result& t, transcript_format format);

} // namespace tether::broker::api

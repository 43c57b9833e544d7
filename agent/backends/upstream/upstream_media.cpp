#include "backends/upstream/upstream_media.hpp"

#include "backends/model/media.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <fstream>

namespace tether::agent {
namespace {

// Answers and uploads are already bounded in bytes (the broker's upload
// limit, the URL's max_body); these bound what they decode to.
// Decoding may take half of what is left before the request's deadline (the
// upstream's call needs the rest), a minute without one.
media_limits conversion_limits(const job& j) {
    using namespace std::chrono;
    media_limits l;
    l.max_seconds = 3 * 3600; // a long text read aloud, a meeting recording
    const auto now = steady_clock::now();
    l.deadline = now + seconds(60);
    if (j.deadline) {
        const auto left = duration_cast<steady_clock::duration>(*j.deadline - system_clock::now());
        l.deadline = now + std::max<steady_clock::duration>(seconds(1), left / 2);
    }
    return l;
}

std::optional<std::string> read_whole(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) return std::nullopt;
    return bytes;
}

// params.response_format or params.format when it names a format the media
// layer writes; nullopt for none (or another, which the upstream may know).
std::optional<audio_format> requested_format(const job& j) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(j.params_json.empty() ? std::string_view("{}") : std::string_view(j.params_json));
    simdjson::dom::object params;
    if (parser.parse(padded).get(params) != simdjson::SUCCESS) return std::nullopt;
    for (const char* key : {"response_format", "format"}) {
        std::string_view name;
        if (params.at_key(key).get(name) == simdjson::SUCCESS) return parse_audio_format(name);
    }
    return std::nullopt;
}

// "speech.wav" -> "speech.mp3".
std::string renamed(const std::string& name, const std::string& extension) {
    const auto dot = name.rfind('.');
    return (dot == std::string::npos || dot == 0 ? name : name.substr(0, dot)) + "." + extension;
}

} // namespace

std::optional<std::string> inputs_as_wav(const upstream_url& url, job& j) {
    if (!url.audio_wav) return std::nullopt;
    const media_limits limits = conversion_limits(j);
    for (auto& f : j.files) {
        if (!f.mime.starts_with("audio/") && !f.mime.starts_with("video/")) continue;
        std::optional<std::string> bytes = f.path.empty() ? std::optional<std::string>(f.bytes) : read_whole(f.path);
        if (!bytes) return fmt::format("{}: cannot be read", f.name);
        auto c = convert_audio(*bytes, audio_format::wav, url.audio_rate, limits);
        if (c.bytes.empty()) return fmt::format("{} cannot be sent as WAV: {}", f.name, c.error);
        f.bytes = std::move(c.bytes);
        f.path.clear();
        f.size = f.bytes.size();
        f.mime = "audio/wav";
        f.name = renamed(f.name.empty() ? std::string("audio") : f.name, "wav");
    }
    return std::nullopt;
}

answer_file answer_in_requested_format(const job& j, output_file f) {
    answer_file out;
    const auto format = requested_format(j);
    const bool audio = f.mime.starts_with("audio/") || f.mime == "application/octet-stream" || f.mime == "video/webm" ||
                       f.mime == "application/ogg";
    if (!format || !audio) {
        out.file = std::move(f);
        return out;
    }
    if (!f.path.empty()) {
        auto bytes = read_whole(f.path);
        if (!bytes) {
            out.error = "cannot read the upstream's answer file";
            return out;
        }
        f.bytes = std::move(*bytes);
        f.path.clear();
    }
    auto c = convert_audio(f.bytes, *format, 0, conversion_limits(j));
    if (c.bytes.empty()) {
        // Octet-stream that is not audio at all stays what it was.
        if (!f.mime.starts_with("audio/") && c.bad_input) {
            out.file = std::move(f);
            return out;
        }
        const char* name = *format == audio_format::mp3 ? "MP3" : *format == audio_format::opus ? "Opus" : "WAV";
        out.error = fmt::format("the upstream's audio answer ({}) cannot be converted to {} as the request asks: {}",
                                f.mime, name, c.error);
        return out;
    }
    if (c.converted) {
        out.note = fmt::format("converted from {} to mono {} at {} Hz", c.from, c.extension, c.sample_rate);
        f.name = renamed(f.name, c.extension);
        f.bytes = std::move(c.bytes);
    }
    f.mime = c.mime;
    out.file = std::move(f);
    return out;
}

} // namespace tether::agent

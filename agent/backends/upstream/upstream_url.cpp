#include "backends/upstream/upstream_url.hpp"

#include "tether/shared/units.hpp"

#include <charconv>

namespace tether::agent {
namespace {

bool valid_header_name(const std::string& h) {
    if (h.empty() || h.size() > 100) return false;
    for (const char c : h)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
    return true;
}

bool valid_env_name(const std::string& v) {
    if (v.empty() || v.size() > 200 || std::isdigit(static_cast<unsigned char>(v[0]))) return false;
    for (const char c : v)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    return true;
}

// One "key=value" after '#'; false with `error` set when it is not a setting.
bool apply_setting(upstream_url& u, const std::string& item, std::string& error) {
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    auto bad = [&](const std::string& why) {
        error = "setting '" + item + "' after #: " + why;
        return false;
    };
    if (value.empty()) return bad("no value");
    if (key == "model" && u.kind == "openai") u.model = value;
    else if (key == "key_env") {
        if (!valid_env_name(value)) return bad("not an environment variable's name");
        u.key_env = value;
    } else if (key == "header_env") {
        const auto colon = value.find(':');
        if (colon == std::string::npos) return bad("expected HEADER:VARIABLE");
        std::string header = value.substr(0, colon), var = value.substr(colon + 1);
        if (!valid_header_name(header)) return bad("'" + header + "' is not a header name");
        if (!valid_env_name(var)) return bad("'" + var + "' is not an environment variable's name");
        u.header_env.emplace_back(std::move(header), std::move(var));
    } else if (key == "body" && u.kind == "http") {
        if (value != "json" && value != "multipart") return bad("expected json or multipart");
        u.multipart = value == "multipart";
    } else if (key == "inputs" && u.kind == "gradio") {
        u.inputs.clear();
        std::size_t at = 0;
        while (at <= value.size()) {
            auto comma = value.find(',', at);
            if (comma == std::string::npos) comma = value.size();
            std::string in = value.substr(at, comma - at);
            const bool ok = in == "prompt" || in == "messages" || in == "file" ||
                            ((in.starts_with("param:") || in.starts_with("file:")) && in.back() != ':');
            if (!ok || u.inputs.size() == 32) return bad("expected prompt, messages, param:NAME, file or file:FIELD, comma-separated");
            u.inputs.push_back(std::move(in));
            at = comma + 1;
        }
    } else if (key == "field" && u.kind != "openai") {
        if (value.size() > 200 || value.front() == '.' || value.back() == '.' || value.find("..") != std::string::npos)
            return bad("expected a member path such as data.0.text");
        u.field = value;
    } else if (key == "timeout" || key == "connect_timeout") {
        auto d = parse_duration(value);
        if (!d || d->count() <= 0) return bad("not a duration (\"30\", \"500ms\", \"2m\")");
        if (key == "timeout") u.timeout = *d;
        else u.connect_timeout = *d;
    } else if (key == "audio" && u.kind != "openai") {
        // "wav" or "wav:RATE": audio and video inputs sent as 16-bit mono WAV.
        if (value != "wav" && !value.starts_with("wav:")) return bad("expected wav or wav:RATE (wav:16000)");
        u.audio_wav = true;
        if (value.size() > 4) {
            unsigned rate = 0;
            const auto* b = value.data() + 4;
            const auto* e = value.data() + value.size();
            auto [p, ec] = std::from_chars(b, e, rate);
            if (ec != std::errc() || p != e || rate < 1000 || rate > 384000)
                return bad("expected a sample rate from 1000 to 384000 after wav:");
            u.audio_rate = rate;
        }
    } else if (key == "max_body") {
        auto size = parse_size(value);
        if (!size || *size == 0 || *size > max_upstream_body) return bad("expected a size from 1 byte to 1GiB");
        u.max_body = static_cast<std::size_t>(*size);
    } else {
        return bad(u.kind == "openai"   ? "known: model, key_env, header_env, timeout, connect_timeout, max_body"
                   : u.kind == "http" ? "known: body, field, audio, key_env, header_env, timeout, connect_timeout, max_body"
                                      : "known: inputs, field, audio, key_env, header_env, timeout, connect_timeout, max_body");
    }
    return true;
}

} // namespace

std::string upstream_url::display() const {
    const bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
    return scheme + "://" + host + (default_port ? "" : ":" + std::to_string(port)) + base;
}

std::optional<upstream_url> parse_upstream_url(const std::string& text, std::string& error) {
    upstream_url u;
    std::string rest = text;
    std::string fragment;
    if (const auto hash = rest.find('#'); hash != std::string::npos) {
        fragment = rest.substr(hash + 1);
        rest.resize(hash);
    }
    const auto colon = rest.find("://");
    if (colon == std::string::npos) {
        error = "expected http(s)://HOST:PORT/PATH or openai+http(s)://HOST:PORT/PATH";
        return std::nullopt;
    }
    std::string prefix = rest.substr(0, colon);
    if (const auto plus = prefix.find('+'); plus != std::string::npos) {
        u.kind = prefix.substr(0, plus);
        u.scheme = prefix.substr(plus + 1);
        if (u.kind != "openai" && u.kind != "gradio") {
            error = "unknown upstream kind '" + u.kind +
                    "' (openai+http://… for an OpenAI-compatible server, gradio+http://… for a Gradio app, http://… for "
                    "any other)";
            return std::nullopt;
        }
    } else {
        u.kind = "http";
        u.scheme = prefix;
    }
    if (u.scheme != "http" && u.scheme != "https") {
        error = "scheme '" + u.scheme + "': expected http or https";
        return std::nullopt;
    }
    u.port = u.tls() ? 443 : 80;
    std::string authority = rest.substr(colon + 3);
    const auto slash = authority.find_first_of("/?");
    u.base = slash == std::string::npos ? "" : authority.substr(slash);
    authority.resize(std::min(slash, authority.size()));
    if (u.kind == "openai") {
        if (u.base.find('?') != std::string::npos) {
            error = "an OpenAI-compatible server's URL takes no query";
            return std::nullopt;
        }
        while (!u.base.empty() && u.base.back() == '/') u.base.pop_back();
    } else {
        if (u.base.empty() || u.base.front() == '?') u.base = "/" + u.base;
    }
    if (u.kind == "gradio") {
        while (u.base.size() > 1 && u.base.back() == '/') u.base.pop_back();
        const auto call = u.base.rfind("/call/");
        if (call == std::string::npos || call + 6 >= u.base.size() || u.base.find('?') != std::string::npos) {
            error = "a Gradio endpoint's URL ends in /call/NAME (Gradio 5: /gradio_api/call/NAME), without a query";
            return std::nullopt;
        }
        u.inputs = {"prompt"};
        u.field = "0";
    }
    for (const char c : u.base)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
            error = "the path has a space or a control character (percent-encode it)";
            return std::nullopt;
        }
    std::string host = authority;
    if (!host.empty() && host.front() == '[') {
        const auto close = host.find(']');
        if (close == std::string::npos) {
            error = "bad host in '" + text + "'";
            return std::nullopt;
        }
        u.host = host.substr(1, close - 1);
        host = host.substr(close + 1);
        if (!host.empty() && host.front() != ':') {
            error = "bad host in '" + text + "'";
            return std::nullopt;
        }
    } else {
        const auto c = host.rfind(':');
        u.host = host.substr(0, c);
        host = c == std::string::npos ? "" : host.substr(c);
    }
    if (!host.empty()) { // ":PORT"
        unsigned port = 0;
        const auto* b = host.data() + 1;
        const auto* e = host.data() + host.size();
        auto [p, ec] = std::from_chars(b, e, port);
        if (ec != std::errc() || p != e || port == 0 || port > 65535) {
            error = "bad port in '" + authority + "'";
            return std::nullopt;
        }
        u.port = static_cast<std::uint16_t>(port);
    }
    if (u.host.empty() || u.host.size() > 253 || u.host.find_first_of(" @?/\\[]") != std::string::npos) {
        error = "bad host in '" + text + "' (user:password@ is not taken: use key_env or header_env)";
        return std::nullopt;
    }
    std::size_t at = 0;
    while (at < fragment.size()) {
        auto amp = fragment.find('&', at);
        if (amp == std::string::npos) amp = fragment.size();
        if (!apply_setting(u, fragment.substr(at, amp - at), error)) return std::nullopt;
        at = amp + 1;
    }
    return u;
}

} // namespace tether::agent

// Static files of the web page (--web DIR): GET only, no path outside DIR,
// a small content-type table, index.html for directories.
#include "api/api_handler.hpp"
#include "api/json_helpers.hpp"

#include <filesystem>

namespace tether::broker::api {

namespace http = boost::beast::http;
namespace fs = std::filesystem;

namespace {

std::string_view mime_of(const fs::path& p) {
    auto ext = p.extension().string();
    if (ext == ".html" || ext == ".htm") return "text/html; charset=utf-8";
    if (ext == ".css") return "text/css; charset=utf-8";
    if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
    if (ext == ".json") return "application/json";
    if (ext == ".svg") return "image/svg+xml";
    if (ext == ".png") return "image/png";
    if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
    if (ext == ".ico") return "image/x-icon";
    if (ext == ".txt") return "text/plain; charset=utf-8";
    if (ext == ".wasm") return "application/wasm";
    return "application/octet-stream";
}

net::string_response not_found() { return error_response(http::status::not_found, "not_found", "no such file"); }

} // namespace

void serve_static(api_services& s, api_call& call) {
    if (s.options.web_dir.empty()) return call.reply(not_found());
    auto decoded = percent_decode(call.path, false);
    if (!decoded) return call.reply(not_found());
    // Refuse anything that could climb out of the web directory, before touching the disk.
    fs::path rel;
    for (auto seg : split_path(*decoded)) {
        if (seg == ".." || seg == "." || seg.find('\\') != std::string_view::npos ||
            seg.find('\0') != std::string_view::npos || seg.front() == '.')
            return call.reply(not_found());
        rel /= std::string(seg);
    }
    std::error_code ec;
    auto root = fs::canonical(s.options.web_dir, ec);
    if (ec) return call.reply(not_found());
    auto full = root / rel;
    if (fs::is_directory(full, ec)) full /= "index.html";
    auto real = fs::canonical(full, ec);
    if (ec || !fs::is_regular_file(real, ec)) return call.reply(not_found());
    // Symlinks must not lead outside either.
    auto r = real.string();
    auto base = root.string();
    if (r.size() <= base.size() || r.compare(0, base.size(), base) != 0 || r[base.size()] != '/')
        return call.reply(not_found());

    net::file_response res{http::status::ok, 11};
    boost::beast::error_code bec;
    res.body().open(r.c_str(), boost::beast::file_mode::scan, bec);
    if (bec) return call.reply(not_found());
    res.set(http::field::content_type, mime_of(real));
    res.set("X-Content-Type-Options", "nosniff");
    res.set(http::field::cache_control, "no-cache");
    if (real.extension() == ".html") {
        res.set("Content-Security-Policy",
                "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'; "
                "frame-ancestors 'none'");
        res.set("X-Frame-Options", "DENY");
    }
    res.prepare_payload();
    call.ex->respond_file(std::move(res));
}

} // namespace tether::broker::api

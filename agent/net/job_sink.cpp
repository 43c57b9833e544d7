#include "net/job_sink.hpp"

#include "tether/protocol/codec.hpp"
#include "tether/protocol/json_writer.hpp"

#include <fstream>

namespace tether::agent {

std::shared_ptr<backend_event> job_sink::make(backend_event::kind k) {
    auto ev = std::make_shared<backend_event>();
    ev->what = k;
    return ev;
}

void job_sink::processing() {
    post(make(backend_event::kind::processing));
}

void job_sink::delta(std::string text) {
    auto ev = make(backend_event::kind::delta);
    ev->text = std::move(text);
    post(std::move(ev));
}

void job_sink::file(output_file f) {
    if (!f.path.empty()) {
        // Read here, on the worker, so the network thread never blocks on disk.
        std::ifstream in(f.path, std::ios::binary | std::ios::ate);
        const auto end = in ? static_cast<std::int64_t>(in.tellg()) : -1;
        if (!in || end < 0 || static_cast<std::uint64_t>(end) > max_output_file_bytes) {
            failed("backend_error", "output file " + f.name + " is unreadable or too large");
            return;
        }
        in.seekg(0);
        f.bytes.resize(static_cast<std::size_t>(end));
        in.read(f.bytes.data(), static_cast<std::streamsize>(end));
        if (!in) {
            failed("backend_error", "output file " + f.name + " could not be read");
            return;
        }
        f.path.clear();
    } else if (f.bytes.size() > max_output_file_bytes) {
        failed("backend_error", "output file " + f.name + " is too large");
        return;
    }
    auto ev = make(backend_event::kind::file);
    ev->file = std::move(f);
    post(std::move(ev));
}

void job_sink::completed(completion c) {
    auto ev = make(backend_event::kind::completed);
    ev->done = std::move(c);
    post_terminal(std::move(ev));
}

void job_sink::failed(std::string code, std::string message) {
    auto ev = make(backend_event::kind::failed);
    ev->text = std::move(code);
    ev->message = std::move(message);
    post_terminal(std::move(ev));
}

void job_sink::post(std::shared_ptr<backend_event> ev) {
    if (finished_.load()) return;
    deliver_(std::move(ev));
}

void job_sink::post_terminal(std::shared_ptr<backend_event> ev) {
    if (finished_.exchange(true)) return;
    deliver_(std::move(ev));
}

std::string compose_result_json(const completion& c, const std::vector<protocol::file_ref>& outputs,
                                bool& extra_dropped) {
    extra_dropped = false;
    protocol::json_writer w;
    w.begin_object().key("output").value(c.output);
    if (c.confidence) w.key("confidence").value(*c.confidence);
    if (!outputs.empty()) {
        w.key("files").begin_array();
        for (const auto& f : outputs) {
            w.begin_object().key("blob").value(static_cast<std::uint64_t>(f.blob)).key("name").value(f.name);
            w.key("mime").value(f.mime).key("size").value(static_cast<std::uint64_t>(f.size)).end_object();
        }
        w.end_array();
    }
    std::string base = w.take();
    std::string_view extra = c.extra_json;
    while (!extra.empty() && extra.front() == ' ')
        extra.remove_prefix(1);
    while (!extra.empty() && extra.back() == ' ')
        extra.remove_suffix(1);
    if (extra.size() > 2 && extra.front() == '{' && extra.back() == '}') {
        // Extra members go beside output/confidence/files; the whole is
        // re-validated, so a malformed extra cannot corrupt the frame.
        std::string merged = base + "," + std::string(extra.substr(1, extra.size() - 2)) + "}";
        if (auto canon = protocol::canonical_json(merged)) return std::move(canon.value());
        extra_dropped = true;
    } else if (!extra.empty() && extra != "{}") {
        extra_dropped = true;
    }
    return base + "}";
}

} // namespace tether::agent

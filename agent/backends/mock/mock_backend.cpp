#include "backends/mock/mock_backend.hpp"

#include "tether/protocol/json_writer.hpp"
#include "tether/shared/crypto.hpp"
#include "tether/shared/log.hpp"

#include <fstream>

namespace tether::agent {

namespace {

// Words of `text`, each keeping the space that followed it, so the deltas
// concatenate back to exactly the reply.
std::vector<std::string> split_words(const std::string& text) {
    std::vector<std::string> words;
    std::string cur;
    for (char c : text) {
        cur.push_back(c);
        if (c == ' ') {
            words.push_back(std::move(cur));
            cur.clear();
        }
    }
    if (!cur.empty()) words.push_back(std::move(cur));
    return words;
}

// SHA-256 of an input, reading a spooled file in pieces.
std::string digest_of(const input_file& f) {
    if (f.path.empty()) return sha256_hex(f.bytes);
    sha256 h;
    std::ifstream in(f.path, std::ios::binary);
    std::string buf(std::size_t{64} * 1024, '\0');
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        const auto n = in.gcount();
        if (n <= 0) break;
        h.update(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    }
    return h.hex_digest();
}

} // namespace

mock_backend::mock_backend(mock_options opts) : opts_(opts) {
    if (opts_.delay_max < opts_.delay_min) std::swap(opts_.delay_min, opts_.delay_max);
    if (opts_.seed != 0) {
        rng_.seed(opts_.seed);
    } else {
        std::random_device rd;
        rng_.seed((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
    }
}

std::vector<std::string> mock_backend::models(const std::string&) const {
    return {"mock"};
}

std::chrono::milliseconds mock_backend::draw_delay() {
    const auto lo = opts_.delay_min.count();
    const auto hi = opts_.delay_max.count();
    if (hi <= lo) return opts_.delay_min;
    std::lock_guard lock(rng_mutex_);
    std::uniform_int_distribution<std::int64_t> dist(lo, hi);
    return std::chrono::milliseconds{dist(rng_)};
}

bool mock_backend::draw_failure() {
    if (opts_.fail_rate <= 0.0) return false;
    if (opts_.fail_rate >= 1.0) return true;
    std::lock_guard lock(rng_mutex_);
    std::uniform_real_distribution<double> dist(0.0, 1.0);
    return dist(rng_) < opts_.fail_rate;
}

void mock_backend::run(const job& j, cancellation_token& cancel, result_sink& sink) {
    const auto started = std::chrono::steady_clock::now();
    sink.processing();

    const std::string reply = "echo: " + j.prompt;
    const auto words = split_words(reply);
    const auto delay = draw_delay();
    const bool fail = j.prompt.find("#fail") != std::string::npos || draw_failure();

    // The delay is spread over the words: one wait, then one delta, each.
    const auto step = words.empty() ? delay : delay / static_cast<long>(words.size());
    for (const auto& w : words) {
        if (step.count() > 0 && cancel.wait_for(step)) break;
        if (cancel.cancelled()) break;
        if (!fail) sink.delta(w);
    }
    if (cancel.cancelled()) {
        log::debug(
            "mock: request {} cancelled after {} ms", j.request_id,
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
        sink.failed("cancelled", "cancelled");
        return;
    }
    if (fail) {
        sink.failed("model_error", "injected failure (mock backend)");
        return;
    }

    if (j.prompt.find("#file") != std::string::npos) {
        sink.file(output_file{"echo.txt", "text/plain", reply + "\n", {}});
    }

    protocol::json_writer w;
    w.begin_object().key("files_in").begin_array();
    for (const auto& f : j.files) {
        w.begin_object()
            .key("field")
            .value(f.field)
            .key("name")
            .value(f.name)
            .key("size")
            .value(static_cast<std::uint64_t>(f.size))
            .key("sha256")
            .value(digest_of(f))
            .end_object();
    }
    w.end_array().end_object();

    completion c;
    c.output = reply;
    c.confidence = 1.0;
    c.extra_json = w.take();
    c.inference_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    sink.completed(std::move(c));
}

} // namespace tether::agent

// libFuzzer target for the broker's HTTP request handling, without sockets.
// Input: [read size][bytes a client sends on one connection]. The bytes go
// through Beast's parser the way net/http_session.cpp reads them (header
// limit, then a JSON body up to max_body_bytes or a multipart upload streamed
// through upload_spool after admit_upload), and each request is handed to
// the real api_handler over a real SQLite store (in /dev/shm), core_host and
// blob store: routing, auth (API keys, session cookies), CSRF, every handler,
// the OpenAI API and static files. Keep-alive requests on the same
// connection are read in turn, up to 8.
//   "@USER@", "@ADMIN@" and "@SESSION@" in the input become a user's API key,
//   an admin's API key and the user's session token (made at start), so the
//   fuzzer gets past authentication. HTTP_FUZZ_VERBOSE=1 prints every answer.
// Aborts on: a 500 answer, a JSON answer that is not JSON, a static file that
// is not one of the web directory's files, a request never answered.
// Not covered: TLS, timeouts, the WebSocket upgrade to /agent and the agent
// session (protocol_fuzz covers the frames), writing the answers, SSE
// streaming after the first answer.
#include "api/api_handler.hpp"
#include "api/stream_registry.hpp"
#include "app/core_host.hpp"
#include "net/http_types.hpp"
#include "net/multipart_parser.hpp"
#include "net/sse_channel.hpp"
#include "net/upload_spool.hpp"
#include "store/blob_store.hpp"
#include "store/store.hpp"

#include "tether/protocol/codec.hpp"
#include "tether/shared/log.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using namespace tether;
using namespace tether::broker;

constexpr std::size_t max_requests_per_input = 8;
constexpr std::size_t upload_chunk = 64 * 1024; // as http_session.cpp
constexpr std::uint32_t space_timeout_s = 10;

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "http_fuzz: %s\n%.*s\n", what, static_cast<int>(std::min<std::size_t>(detail.size(), 2000)), detail.data());
    std::abort();
}

// Time moves only when the harness says so (from any thread).
class fuzz_clock final : public clock_source {
public:
    time_point now() const override { return start_ + std::chrono::milliseconds(offset_ms_.load()); }
    void advance(std::chrono::milliseconds d) { offset_ms_ += d.count(); }

private:
    time_point start_{std::chrono::seconds{1'800'000'000}};
    std::atomic<std::int64_t> offset_ms_{0};
};

// What the handler answered; the first answer wins, like http_session's exchange.
class recording_exchange final : public net::http_exchange {
public:
    struct answer {
        unsigned status = 0;
        std::string content_type;
        std::string body;
        bool events = false;
        bool file = false;
        std::uint64_t file_size = 0;
    };

    void respond(net::string_response res) override {
        answer a;
        a.status = res.result_int();
        a.content_type = std::string(res[http::field::content_type]);
        a.body = std::move(res.body());
        set(std::move(a));
    }
    void respond_file(net::file_response res) override {
        answer a;
        a.status = res.result_int();
        a.file = true;
        a.file_size = res.body().size();
        set(std::move(a));
    }
    void respond_events(std::shared_ptr<net::sse_channel> channel) override {
        answer a;
        a.status = 200;
        a.events = true;
        if (set(std::move(a))) channel->detach(); // the client goes away at once
    }
    std::optional<answer> wait_for(std::chrono::milliseconds d) {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, d, [this] { return answer_.has_value(); });
        return answer_;
    }

private:
    bool set(answer a) {
        {
            std::lock_guard lock(mutex_);
            if (answer_) return false;
            answer_ = std::move(a);
        }
        cv_.notify_all();
        return true;
    }
    std::mutex mutex_;
    std::condition_variable cv_;
    std::optional<answer> answer_;
};

struct baseline_user {
    std::string name, password;
    bool admin;
    std::string key_placeholder;
};
const baseline_user baseline_users[] = {{"alice", "alice-pw", false, "@USER@"}, {"root", "root-pw", true, "@ADMIN@"}};

std::vector<space_config> baseline_spaces() {
    space_config demo;
    demo.name = "demo";
    demo.description = "text";
    demo.features = feature_prompt;
    demo.timeout_s = space_timeout_s;
    demo.queue_limit = 2;
    space_config media = demo;
    media.name = "media";
    media.description = "files";
    media.features = feature_prompt | feature_audio | feature_video | feature_file;
    media.queue_limit = 4;
    return {demo, media};
}

// The broker without its listener, started once per process.
class world {
public:
    world() {
        log::set_level(log::level::error);
        remove_stale_dirs();
        const fs::path shm = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
        dir_ = shm / ("tether-http-fuzz-" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        static const fs::path for_exit = dir_;
        std::atexit([] {
            std::error_code ec;
            fs::remove_all(for_exit, ec);
        });
        make_web_dir();

        store_options so;
        so.password_iterations = 1; // logins must not cost 0.1 s each
        st_ = open_store(dir_ / "data", clock_, so);
        blobs_ = std::make_unique<blob_store>(blobs_path(dir_ / "data"));
        spool_ = blobs_path(dir_ / "data") / "spool";
        fs::create_directories(spool_);

        io_ = std::thread([this] { ioc_.run(); });
        host_ = std::make_shared<app::core_host>(ioc_, *st_, *blobs_, clock_, core_limits{}, &latency_);

        rate_limit_config rates;
        std::string err;
        if (!parse_rate_limit("media:key=1/2", rates, err)) fail("rate limit", err);
        limiter_ = std::make_unique<rate_limiter>(clock_, rates);

        api::api_options opts;
        opts.max_upload = 1U << 20;
        opts.web_dir = dir_ / "web";
        opts.spool_dir = spool_;
        api::api_services services{opts, *st_, *blobs_, *host_, counters_, draining_};
        services.limiter = limiter_.get();
        services.latency = &latency_;
        services.streams = &streams_;
        // As the broker's config_watch does after an admin change.
        services.sync_config = [this] {
            auto spaces = st_->list_spaces();
            host_->call([&](broker_core& core) { core.sync_spaces(spaces); });
            streams_.revalidate(*st_);
        };
        handler_ = std::make_shared<api::api_handler>(std::move(services), 1);
        restore_baseline();
    }

    void run(std::string_view input);

private:
    void make_web_dir();
    void remove_stale_dirs();
    void restore_baseline();
    void restore_users();
    void restore_spaces();
    void settle();
    void check(const recording_exchange::answer& a, std::string_view request);
    std::string substitute(std::string_view input) const;
    bool serve(beast::test::stream& ts, beast::flat_buffer& buffer, std::string_view input);
    void dispatch(net::incoming_request req, std::string_view input);

    fs::path dir_, spool_;
    fuzz_clock clock_;
    std::unique_ptr<store> st_;
    std::unique_ptr<blob_store> blobs_;
    api::stream_registry streams_;
    asio::io_context ioc_;
    asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
    std::thread io_;
    api::latency_metrics latency_;
    std::shared_ptr<app::core_host> host_;
    std::unique_ptr<rate_limiter> limiter_;
    std::shared_ptr<net::net_counters> counters_ = std::make_shared<net::net_counters>();
    std::shared_ptr<std::atomic<bool>> draining_ = std::make_shared<std::atomic<bool>>(false);
    std::shared_ptr<api::api_handler> handler_;
    net::net_limits limits_; // the session's defaults: header limit
    std::map<std::string, std::string> tokens_; // placeholder -> secret
    std::set<std::int64_t> baseline_keys_;
    std::set<std::uint64_t> web_file_sizes_;
    bool dirty_ = true; // something may have changed users, keys or spaces
    bool verbose_ = std::getenv("HTTP_FUZZ_VERBOSE") != nullptr; // print every answer
};

void world::remove_stale_dirs() {
    // Left behind by earlier runs that crashed (libFuzzer exits without cleanup).
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/dev/shm", ec)) {
        const auto name = e.path().filename().string();
        constexpr std::string_view prefix = "tether-http-fuzz-";
        if (name.rfind(prefix, 0) != 0) continue;
        const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
        if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
    }
}

void world::make_web_dir() {
    // Files of distinct sizes, and a secret beside the directory that a link
    // inside it points at: a served file of any other size came from outside.
    fs::create_directories(dir_ / "web" / "js");
    fs::create_directories(dir_ / "web" / "empty");
    std::ofstream(dir_ / "web" / "index.html") << std::string(100, 'i');
    std::ofstream(dir_ / "web" / "js" / "app.js") << std::string(200, 'j');
    std::ofstream(dir_ / "web" / "style.css") << std::string(300, 'c');
    std::ofstream(dir_ / "secret.txt") << std::string(12345, 's');
    std::error_code ec;
    fs::create_symlink(dir_ / "secret.txt", dir_ / "web" / "link.txt", ec);
    fs::create_directory_symlink(dir_, dir_ / "web" / "up", ec);
    web_file_sizes_ = {100, 200, 300};
}

void world::restore_users() {
    for (const auto& u : st_->list_users()) {
        bool known = false;
        for (const auto& b : baseline_users) known = known || u.name == b.name;
        if (!known) st_->delete_user(u.name);
    }
    for (const auto& b : baseline_users) {
        auto u = st_->get_user(b.name);
        if (!u) {
            if (st_->add_user(b.name, b.password, b.admin) != store_status::ok) fail("cannot add a baseline user");
        } else {
            if (u->admin != b.admin) st_->set_admin(b.name, b.admin);
            if (!st_->verify_login(b.name, b.password)) st_->set_password(b.name, b.password);
        }
        auto& key = tokens_[b.key_placeholder];
        auto holder = key.empty() ? std::nullopt : st_->find_api_key_user(key);
        if (!holder || holder->name != b.name) {
            auto k = st_->create_api_key(b.name);
            if (!k.ok()) fail("cannot create a baseline key");
            key = k.secret;
            baseline_keys_.clear();
        }
    }
    if (baseline_keys_.empty())
        for (const auto& b : baseline_users)
            for (const auto& k : st_->list_api_keys(b.name)) baseline_keys_.insert(k.id);
    for (const auto& k : st_->list_all_api_keys())
        if (!baseline_keys_.count(k.id)) st_->revoke_api_key(k.id);
    auto& session = tokens_["@SESSION@"];
    auto holder = session.empty() ? std::nullopt : st_->find_session_user(session);
    if (!holder || holder->name != "alice") {
        auto s = st_->create_session("alice");
        if (!s.ok()) fail("cannot create a baseline session");
        session = s.secret;
    }
    st_->delete_expired_sessions();
}

void world::restore_spaces() {
    const auto wanted = baseline_spaces();
    for (const auto& s : st_->list_spaces()) {
        bool known = false;
        for (const auto& w : wanted) known = known || s.name == w.name;
        if (!known) st_->delete_space(s.name);
    }
    for (const auto& w : wanted) {
        auto have = st_->get_space(w.name);
        if (!have) {
            if (!st_->add_space(w).ok()) fail("cannot add a baseline space");
        } else if (have->description != w.description || have->features != w.features ||
                   have->timeout_s != w.timeout_s || have->queue_limit != w.queue_limit) {
            st_->update_space(w);
        }
    }
    // The core follows the store, as at broker start.
    auto spaces = st_->list_spaces();
    host_->call([&](broker_core& core) { core.sync_spaces(spaces); });
}

void world::restore_baseline() {
    restore_users();
    restore_spaces();
    dirty_ = false;
}

// After an input: every request it left queued times out (the clock jumps past
// the longest timeout), uploaded files go, and users, keys and spaces are put
// back if a request may have changed them, so each input starts from the same state.
void world::settle() {
    auto longest = host_->call([](broker_core& core) {
        std::uint32_t t = space_timeout_s;
        for (const auto& v : core.list_spaces()) t = std::max(t, v.config.timeout_s);
        return t;
    });
    clock_.advance(std::chrono::seconds(longest + 1));
    host_->call([](broker_core& core) { core.tick(); });
    if (dirty_) restore_baseline();
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(blobs_->root(), ec))
        if (e.path().filename() != "spool") fs::remove_all(e.path(), ec);
}

std::string world::substitute(std::string_view input) const {
    std::string out(input);
    for (const auto& [placeholder, secret] : tokens_) {
        for (auto pos = out.find(placeholder); pos != std::string::npos; pos = out.find(placeholder, pos + secret.size()))
            out.replace(pos, placeholder.size(), secret);
    }
    return out;
}

void world::check(const recording_exchange::answer& a, std::string_view request) {
    if (verbose_)
        std::fprintf(stderr, "http_fuzz: %u %s%s %.200s\n", a.status, a.events ? "(events) " : "",
                     a.file ? "(file) " : "", a.body.c_str());
    if (a.status < 100 || a.status > 599) fail("answer with an invalid status", request);
    if (a.status == 500) fail("answered 500", std::string(request) + "\n---\n" + a.body);
    if (a.file && !web_file_sizes_.count(a.file_size)) fail("served a file from outside the web directory", request);
    if (a.content_type.rfind("application/json", 0) == 0 && !protocol::canonical_json(a.body).ok())
        fail("a JSON answer that is not JSON", a.body);
}

void world::dispatch(net::incoming_request req, std::string_view input) {
    if (req.msg.method() != http::verb::get && req.msg.method() != http::verb::head) dirty_ = true;
    auto ex = std::make_shared<recording_exchange>();
    handler_->handle(std::move(req), ex);
    // Most answers come at once; one that waits on the core (a chat
    // completion, a submission's durable write) gets it by time moving on.
    std::optional<recording_exchange::answer> a;
    for (int round = 0; round < 500 && !a; ++round) {
        a = ex->wait_for(std::chrono::milliseconds(round < 5 ? 2 : 10));
        if (!a && round >= 5) {
            clock_.advance(std::chrono::seconds(space_timeout_s + 1));
            host_->post([](broker_core& core) { core.tick(); });
        }
    }
    if (!a) fail("a request was never answered", input);
    check(*a, input);
}

// One request from the connection, as http_session reads it. False when the
// connection ends (error, refusal, not keep-alive).
bool world::serve(beast::test::stream& ts, beast::flat_buffer& buffer, std::string_view input) {
    http::request_parser<http::empty_body> header_parser;
    header_parser.header_limit(limits_.header_limit);
    header_parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::error_code ec;
    http::read_header(ts, buffer, header_parser, ec);
    if (ec) return false; // 431 / 400 or a closed connection: nothing reaches the API
    auto& req = header_parser.get();
    if (beast::websocket::is_upgrade(req)) return false; // 404, or the agent session (not here)

    if (req.method() == http::verb::post) {
        auto ct = req[http::field::content_type];
        if (auto boundary = net::multipart_parser::boundary_of(std::string_view(ct.data(), ct.size()))) {
            auto admission = handler_->admit_upload(req.base(), false);
            if (admission.refusal) {
                recording_exchange ex;
                ex.respond(std::move(*admission.refusal));
                check(*ex.wait_for(std::chrono::milliseconds(0)), input);
                return false;
            }
            http::request_parser<http::buffer_body> upload_parser(std::move(header_parser));
            upload_parser.body_limit(admission.max_bytes);
            if (auto len = upload_parser.content_length(); len && *len > admission.max_bytes) return false; // 413
            net::upload_spool spool(std::move(*boundary), admission.spool_dir, admission.max_bytes);
            std::vector<char> chunk(upload_chunk);
            while (true) {
                auto& body = upload_parser.get().body();
                body.data = chunk.data();
                body.size = chunk.size();
                http::read(ts, buffer, upload_parser, ec);
                if (ec == http::error::need_buffer) ec = {};
                if (ec) return false; // 413 or a broken connection
                std::size_t got = chunk.size() - upload_parser.get().body().size;
                auto st = spool.feed(std::string_view(chunk.data(), got));
                if (st == net::upload_spool::status::ok && upload_parser.is_done()) st = spool.finish();
                if (st == net::upload_spool::status::io_error) fail("upload spool I/O error", spool.error());
                if (st != net::upload_spool::status::ok) return false; // 413 / 400
                if (upload_parser.is_done()) break;
            }
            net::incoming_request in;
            in.msg.base() = upload_parser.get().base();
            in.form = spool.take();
            in.remote = "127.0.0.1";
            bool keep_alive = in.msg.keep_alive();
            dispatch(std::move(in), input);
            return keep_alive;
        }
    }

    http::request_parser<http::string_body> body_parser(std::move(header_parser));
    body_parser.body_limit(handler_->max_body_bytes());
    if (auto len = body_parser.content_length(); len && *len > handler_->max_body_bytes()) return false; // 413
    if (!body_parser.is_done()) {
        http::read(ts, buffer, body_parser, ec);
        if (ec) return false;
    }
    net::incoming_request in;
    in.msg = body_parser.release();
    in.remote = "127.0.0.1";
    bool keep_alive = in.msg.keep_alive();
    dispatch(std::move(in), input);
    return keep_alive;
}

void world::run(std::string_view input) {
    if (input.empty()) return;
    const auto read_size = static_cast<std::uint8_t>(input.front());
    const std::string bytes = substitute(input.substr(1));
    asio::io_context ioc;
    beast::test::stream ts(ioc, bytes);
    if (read_size != 0) ts.read_size(read_size);
    ts.close_remote();
    beast::flat_buffer buffer;
    for (std::size_t i = 0; i < max_requests_per_input; ++i)
        if (!serve(ts, buffer, input)) break;
    settle();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Never destroyed: the store's writer, the io thread and the API worker
    // outlive every input, and libFuzzer exits without unwinding.
    static world* w = new world();
    w->run(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}

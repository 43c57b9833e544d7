#include "net/agent_connection.hpp"

#include "net/job_sink.hpp"

#include "tether/protocol/blob_header.hpp"
#include "tether/protocol/codec.hpp"
#include "tether/protocol/json_writer.hpp"
#include "tether/shared/clock.hpp"
#include "tether/shared/ids.hpp"
#include "tether/shared/log.hpp"

#include <boost/asio/post.hpp>

namespace tether::agent {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {

long long ms_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count();
}

} // namespace

struct agent_connection::active_request {
    protocol::inference_request_frame frame;
    uuid id;
    std::unique_ptr<blob_assembler> blobs; // while input files arrive
    std::shared_ptr<cancellation_token> cancel = std::make_shared<cancellation_token>();
    bool running = false;
    bool cancelled = false;
    std::uint64_t seq = 0;
    std::uint32_t next_blob = 1;
    std::vector<protocol::file_ref> outputs;
    std::chrono::steady_clock::time_point received_at = std::chrono::steady_clock::now();
};

agent_connection::agent_connection(asio::io_context& ioc, asio::ssl::context* tls, connection_settings settings,
                                   backend& be, worker_pool& pool, finished_handler on_finished)
    : strand_(asio::make_strand(ioc)), transport_(strand_, tls), settings_(std::move(settings)), backend_(be),
      pool_(pool), on_finished_(std::move(on_finished)), register_timer_(strand_), grace_timer_(strand_),
      retry_taken_timer_(strand_) {}

agent_connection::~agent_connection() = default;

void agent_connection::start() {
    asio::post(strand_, [self = shared_from_this()] {
        log::info("connecting to {}", self->settings_.url.to_string());
        self->transport_.async_connect(self->settings_.url, [self](error_code ec) { self->on_connected(ec); });
    });
}

void agent_connection::on_connected(error_code ec) {
    if (state_ == state::done) return;
    if (ec) {
        finish(connection_outcome::kind::lost, "cannot connect to " + settings_.url.to_string() + ": " + ec.message());
        return;
    }
    if (state_ == state::closing) { // a signal came while connecting
        close_with(protocol::close_normal);
        return;
    }
    connected_at_ = std::chrono::steady_clock::now();
    state_ = state::registering;
    log::info("connected to {}; registering {} space(s) as instance {}", settings_.url.to_string(),
              settings_.registration.spaces.size(), settings_.registration.agent.instance);
    send_text(protocol::encode(settings_.registration));
    register_timer_.expires_after(settings_.register_timeout);
    register_timer_.async_wait([self = shared_from_this()](error_code e) {
        if (e || self->state_ != state::registering) return;
        log::warn("no registered answer within {} s", self->settings_.register_timeout.count());
        self->transport_.abort();
    });
    read_next();
}

void agent_connection::read_next() {
    transport_.async_read([self = shared_from_this()](error_code ec, bool binary, const std::string& data) {
        if (ec) {
            if (self->state_ == state::closing || self->state_ == state::done) {
                self->finish(self->close_kind_, self->close_message_);
                return;
            }
            const auto code = self->transport_.peer_close_code();
            std::string why = code != 0 ? fmt::format("broker closed the connection ({} {})", code,
                                                      self->transport_.peer_close_reason())
                                        : "connection lost: " + ec.message();
            self->finish(connection_outcome::kind::lost, std::move(why));
            return;
        }
        self->on_message(binary, data);
        if (self->state_ != state::done) self->read_next();
    });
}

void agent_connection::on_message(bool binary, const std::string& data) {
    if (binary) {
        on_binary(data);
    } else {
        on_text(data);
    }
}

void agent_connection::on_text(const std::string& text) {
    auto parsed = protocol::parse_broker_frame(text);
    if (!parsed) {
        log::warn("broker sent a frame the agent cannot use: {} ({})", parsed.error().message,
                  protocol::to_string(parsed.error().code));
        return;
    }
    std::visit(
        [this](auto& f) {
            using T = std::decay_t<decltype(f)>;
            if constexpr (std::is_same_v<T, protocol::registered_frame>) {
                on_registered(f);
            } else if constexpr (std::is_same_v<T, protocol::inference_request_frame>) {
                on_request(std::move(f));
            } else if constexpr (std::is_same_v<T, protocol::cancel_frame>) {
                on_cancel(f);
            } else {
                log::warn("broker reported an error: {}: {}", f.code, f.message);
            }
        },
        parsed.value());
}

void agent_connection::on_registered(const protocol::registered_frame& f) {
    if (state_ != state::registering) {
        log::warn("broker sent registered twice; ignored");
        return;
    }
    register_timer_.cancel();
    std::string fatal, taken;
    for (const auto& s : f.spaces) {
        if (s.ok) {
            accepted_spaces_.insert(s.space);
            log::info("space {} registered", s.space);
            continue;
        }
        const std::string code = s.error ? s.error->code : "refused";
        const std::string message = s.error ? s.error->message : "";
        if (code == "space_taken") {
            log::warn("space {} refused: space_taken (another agent holds it; will retry) {}", s.space, message);
            taken += (taken.empty() ? "" : ", ") + s.space;
        } else {
            log::error("space {} refused by the broker: {} {}", s.space, code, message);
            fatal += fmt::format("{}space {} refused: {}{}", fatal.empty() ? "" : "; ", s.space, code,
                                 message.empty() ? "" : " (" + message + ")");
        }
    }
    if (!fatal.empty()) {
        close_kind_ = connection_outcome::kind::fatal;
        close_message_ = fatal;
        close_with(protocol::close_normal);
        return;
    }
    if (accepted_spaces_.empty()) {
        close_kind_ = connection_outcome::kind::refused;
        close_message_ = "every space is held by another agent: " + taken;
        close_with(protocol::close_normal);
        return;
    }
    registered_ = true;
    state_ = state::serving;
    const auto hb = std::clamp<std::uint32_t>(f.heartbeat_s, 1, 3600);
    transport_.set_heartbeat(std::chrono::seconds(hb));
    log::info("registered with {}: {} space(s), heartbeat {} s", settings_.url.to_string(), accepted_spaces_.size(),
              hb);
    if (!taken.empty()) {
        log::warn("space(s) {} held by another agent; retrying them in {} s when idle", taken,
                  settings_.retry_taken_after.count());
        close_message_ = "reconnecting to retry space(s) held by another agent: " + taken;
        arm_retry_taken();
    }
}

void agent_connection::arm_retry_taken() {
    retry_taken_timer_.expires_after(settings_.retry_taken_after);
    retry_taken_timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (ec || self->state_ != state::serving) return;
        if (!self->requests_.empty()) {
            self->arm_retry_taken(); // never interrupt work in flight for this
            return;
        }
        self->close_kind_ = connection_outcome::kind::lost;
        self->close_with(protocol::close_normal);
    });
}

void agent_connection::on_request(protocol::inference_request_frame f) {
    if (state_ != state::serving) {
        // Not answered: when this connection closes the broker requeues it.
        log::info("request {} for {} not taken: {}", f.request_id, f.space,
                  state_ == state::draining ? "draining" : "not registered");
        return;
    }
    if (requests_.count(f.request_id) != 0) {
        log::warn("request {} received twice; ignored", f.request_id);
        return;
    }
    auto id = uuid::parse(f.request_id);
    if (!id) {
        log::warn("request id '{}' is not a UUID; ignored", f.request_id);
        return;
    }
    log::info("request {} space={} user={} files={}", f.request_id, f.space, f.username, f.files.size());
    auto r = std::make_unique<active_request>();
    r->id = *id;
    const std::string rid = f.request_id;
    if (accepted_spaces_.count(f.space) == 0) {
        r->frame = std::move(f);
        requests_.emplace(rid, std::move(r));
        fail_request(rid, "unknown_space", "this agent is not registered for that space");
        return;
    }
    std::string error;
    if (!f.files.empty()) r->blobs = std::make_unique<blob_assembler>(f.files, settings_.blobs, error);
    r->frame = std::move(f);
    auto& ref = *r;
    requests_.emplace(rid, std::move(r));
    if (!error.empty()) {
        fail_request(rid, "bad_input", error);
        return;
    }
    if (!ref.blobs || ref.blobs->complete()) start_job(ref);
}

void agent_connection::on_binary(const std::string& data) {
    auto h = protocol::parse_blob_header(data);
    if (!h) {
        log::warn("broker sent a binary frame shorter than a blob header; ignored");
        return;
    }
    uuid id;
    id.bytes = h->request_id;
    const std::string rid = id.to_string();
    auto it = requests_.find(rid);
    if (it == requests_.end() || !it->second->blobs || it->second->running) {
        log::debug("blob {} for request {} not expected; ignored", h->blob, rid);
        return;
    }
    auto& r = *it->second;
    if (auto err = r.blobs->add_chunk(h->blob, h->last(), std::string_view(data).substr(protocol::blob_header_size))) {
        fail_request(rid, "bad_input", *err);
        return;
    }
    if (r.blobs->complete()) start_job(r);
}

void agent_connection::start_job(active_request& r) {
    r.running = true;
    auto spool = std::make_shared<spooled_files>();
    auto j = std::make_shared<job>();
    j->request_id = r.frame.request_id;
    j->space = r.frame.space;
    j->username = r.frame.username;
    j->prompt = r.frame.prompt.value_or("");
    j->params_json = r.frame.params_json;
    j->messages_json = r.frame.messages_json.value_or("");
    j->deadline = parse_rfc3339(r.frame.deadline);
    if (r.blobs) {
        j->files = r.blobs->take_files(*spool);
        r.blobs.reset();
    }
    auto sink = std::make_shared<job_sink>(
        [conn = weak_from_this(), strand = strand_, id = r.frame.request_id](std::shared_ptr<backend_event> ev) {
            asio::post(strand, [conn, id, ev = std::move(ev)] {
                if (auto c = conn.lock()) c->on_backend_event(id, ev);
            });
        });
    pool_.submit([&be = backend_, j, spool, sink, cancel = r.cancel] {
        try {
            be.run(*j, *cancel, *sink);
        } catch (const std::exception& e) {
            sink->failed("backend_error", e.what());
        } catch (...) {
            sink->failed("backend_error", "the backend failed");
        }
        if (!sink->finished()) sink->failed("backend_error", "the backend returned without a result");
    });
}

void agent_connection::on_backend_event(const std::string& request_id, const std::shared_ptr<backend_event>& ev) {
    auto it = requests_.find(request_id);
    if (it == requests_.end()) return;
    auto& r = *it->second;
    const bool terminal = ev->what == backend_event::kind::completed || ev->what == backend_event::kind::failed;
    if (state_ == state::done || r.cancelled) {
        if (terminal) {
            if (r.cancelled)
                log::info("request {} cancelled; backend stopped after {} ms", request_id, ms_since(r.received_at));
            requests_.erase(it);
            maybe_finish_drain();
        }
        return;
    }
    protocol::inference_result_frame out;
    out.request_id = request_id;
    switch (ev->what) {
    case backend_event::kind::processing:
        out.status = protocol::result_status::processing;
        send_text(protocol::encode(out));
        return;
    case backend_event::kind::delta:
        out.status = protocol::result_status::streaming;
        out.seq = ++r.seq;
        out.delta_text = std::move(ev->text);
        send_text(protocol::encode(out));
        return;
    case backend_event::kind::file: {
        protocol::file_ref ref;
        ref.blob = r.next_blob++;
        ref.name = ev->file.name;
        ref.mime = ev->file.mime;
        ref.size = ev->file.bytes.size();
        protocol::blob_header h;
        h.request_id = r.id.bytes;
        h.blob = ref.blob;
        const std::string_view bytes = ev->file.bytes;
        std::size_t off = 0;
        do {
            const auto n = std::min(protocol::default_max_blob_chunk, bytes.size() - off);
            h.flags = off + n == bytes.size() ? protocol::blob_flag_last : 0U;
            send_binary(protocol::encode_blob_frame(h, bytes.substr(off, n)));
            off += n;
        } while (off < bytes.size());
        r.outputs.push_back(std::move(ref));
        return;
    }
    case backend_event::kind::completed: {
        auto& c = ev->done;
        bool extra_dropped = false;
        out.result_json = compose_result_json(c, r.outputs, extra_dropped);
        if (extra_dropped) log::warn("request {}: backend's extra result is not a JSON object; dropped", request_id);
        out.status = protocol::result_status::completed;
        out.output = c.output;
        out.confidence = c.confidence;
        out.files = r.outputs;
        out.inference_ms = c.inference_ms;
        send_text(protocol::encode(out));
        log::info("request {} completed in {} ms", request_id, ms_since(r.received_at));
        requests_.erase(it);
        maybe_finish_drain();
        return;
    }
    case backend_event::kind::failed:
        log::info("request {} failed: {}: {}", request_id, ev->text, ev->message);
        fail_request(request_id, ev->text, ev->message);
        return;
    }
}

void agent_connection::fail_request(const std::string& id, const std::string& code, const std::string& message) {
    protocol::inference_result_frame out;
    out.request_id = id;
    out.status = protocol::result_status::failed;
    out.error = {code, message};
    send_text(protocol::encode(out));
    if (auto it = requests_.find(id); it != requests_.end()) {
        it->second->cancel->cancel();
        // A running job's terminal report will find nothing and be dropped.
        requests_.erase(it);
    }
    maybe_finish_drain();
}

void agent_connection::on_cancel(const protocol::cancel_frame& f) {
    auto it = requests_.find(f.request_id);
    if (it == requests_.end()) {
        log::debug("cancel for unknown request {}; ignored", f.request_id);
        return;
    }
    auto& r = *it->second;
    log::info("request {} cancel ({}) after {} ms", f.request_id, f.reason, ms_since(r.received_at));
    if (!r.running) {
        requests_.erase(it);
        maybe_finish_drain();
        return;
    }
    r.cancelled = true;
    r.cancel->cancel();
}

void agent_connection::drain(std::chrono::milliseconds grace) {
    asio::post(strand_, [self = shared_from_this(), grace] {
        switch (self->state_) {
        case state::serving:
            break;
        case state::connecting:
        case state::registering:
            self->close_kind_ = connection_outcome::kind::drained;
            if (self->state_ == state::connecting) {
                self->state_ = state::closing;
                self->transport_.abort();
            } else {
                self->close_with(protocol::close_normal);
            }
            return;
        default:
            return;
        }
        self->state_ = state::draining;
        log::info("draining: {} request(s) in flight, grace {} ms", self->requests_.size(), grace.count());
        self->send_text(protocol::encode(protocol::drain_frame{}));
        self->grace_timer_.expires_after(grace);
        self->grace_timer_.async_wait([self](error_code ec) {
            if (ec || self->state_ != state::draining) return;
            log::warn("grace period over with {} request(s) in flight; cancelling them", self->requests_.size());
            for (auto& [id, r] : self->requests_)
                r->cancel->cancel();
            self->requests_.clear();
            self->close_kind_ = connection_outcome::kind::drained;
            self->close_with(protocol::close_normal);
        });
        self->maybe_finish_drain();
    });
}

void agent_connection::abort() {
    asio::post(strand_, [self = shared_from_this()] {
        self->close_kind_ = connection_outcome::kind::drained;
        if (self->state_ != state::done) self->state_ = state::closing;
        self->transport_.abort();
        self->finish(connection_outcome::kind::drained, "aborted");
    });
}

void agent_connection::maybe_finish_drain() {
    if (state_ != state::draining || !requests_.empty()) return;
    log::info("drained: no request in flight");
    close_kind_ = connection_outcome::kind::drained;
    close_with(protocol::close_normal);
}

void agent_connection::send_text(std::string text) {
    writes_.push_back({false, std::move(text)});
    write_next();
}

void agent_connection::send_binary(std::string data) {
    writes_.push_back({true, std::move(data)});
    write_next();
}

void agent_connection::write_next() {
    if (writing_ || state_ == state::done) return;
    if (writes_.empty()) {
        if (pending_close_) {
            const auto code = *pending_close_;
            pending_close_.reset();
            writing_ = true; // nothing may be written after the close frame
            transport_.async_close(code, [self = shared_from_this()](error_code) {
                self->finish(self->close_kind_, self->close_message_);
            });
        }
        return;
    }
    writing_ = true;
    transport_.async_write(writes_.front().binary, writes_.front().data, [self = shared_from_this()](error_code ec) {
        self->writing_ = false;
        if (!self->writes_.empty()) self->writes_.pop_front();
        if (ec) {
            if (self->state_ != state::done) {
                self->transport_.abort(); // the read side reports the loss
            }
            return;
        }
        self->write_next();
    });
}

void agent_connection::close_with(std::uint16_t code) {
    if (state_ == state::done) return;
    state_ = state::closing;
    grace_timer_.cancel();
    register_timer_.cancel();
    retry_taken_timer_.cancel();
    pending_close_ = code;
    write_next();
}

void agent_connection::finish(connection_outcome::kind what, std::string message) {
    if (state_ == state::done) return;
    state_ = state::done;
    register_timer_.cancel();
    grace_timer_.cancel();
    retry_taken_timer_.cancel();
    for (auto& [id, r] : requests_)
        r->cancel->cancel();
    if (!requests_.empty())
        log::warn("connection ended with {} request(s) in flight; the broker requeues them", requests_.size());
    requests_.clear();
    writes_.clear();
    transport_.abort();
    connection_outcome out;
    out.what = what;
    out.message = std::move(message);
    out.registered = registered_;
    if (connected_at_ != std::chrono::steady_clock::time_point{})
        out.uptime = std::chrono::steady_clock::now() - connected_at_;
    if (auto cb = std::move(on_finished_)) cb(std::move(out));
}

} // namespace tether::agent

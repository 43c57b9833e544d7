#include "app/core_host.hpp"

#include "tether/protocol/codec.hpp"
#include "tether/shared/log.hpp"

#include <mutex>
#include <optional>

namespace tether::broker::app {

namespace asio = boost::asio;

core_host::core_host(asio::io_context& ioc, store& st, const blob_store& blobs, const clock_source& clock,
                     core_limits limits, api::latency_metrics* latency)
    : strand_(asio::make_strand(ioc)), timer_(strand_), store_(st), blobs_(blobs), clock_(clock), latency_(latency),
      core_(clock, *this, limits) {}

void core_host::post(std::function<void(broker_core&)> f) {
    asio::post(strand_, [self = shared_from_this(), f = std::move(f)]() {
        f(self->core_);
        self->rearm();
    });
}

std::optional<space_config> core_host::find_space_config(std::string_view name) const {
    std::lock_guard lock(spaces_mu_);
    auto it = spaces_.find(name);
    if (it == spaces_.end()) return std::nullopt;
    return it->second;
}

void core_host::space_changed(std::string_view name, const space_config* config) {
    std::lock_guard lock(spaces_mu_);
    if (config) {
        spaces_.insert_or_assign(std::string(name), *config);
    } else if (auto it = spaces_.find(name); it != spaces_.end()) {
        spaces_.erase(it);
    }
}

void core_host::rearm() {
    auto next = core_.next_deadline();
    if (next == armed_for_) return;
    armed_for_ = next;
    if (!next) {
        timer_.cancel();
        return;
    }
    auto wait = *next - clock_.now();
    if (wait < decltype(wait)::zero()) wait = decltype(wait)::zero();
    // A little after the deadline, so that tick() sees it passed.
    timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait) +
                         std::chrono::milliseconds(5));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec) return;
        self->armed_for_.reset();
        self->core_.tick();
        self->rearm();
    });
}

namespace {
// The outcome of core.submit and the store's durable callback arrive in
// either order (the writer thread may commit before submit returns).
struct pending_submit {
    std::mutex mutex;
    std::optional<submit_outcome> outcome;
    std::optional<bool> durable;
    std::function<void(submit_outcome, bool)> done;
    void set_outcome(submit_outcome o) {
        std::unique_lock lock(mutex);
        outcome = o;
        fire(lock);
    }
    void set_durable(bool ok) {
        std::unique_lock lock(mutex);
        durable = ok;
        fire(lock);
    }
    void fire(std::unique_lock<std::mutex>& lock) {
        if (!outcome || !durable || !done) return;
        auto d = std::move(done);
        done = nullptr;
        auto o = *outcome;
        bool ok = *durable;
        lock.unlock();
        d(o, ok);
    }
};
} // namespace

void core_host::submit(request_record r, std::function<void(submit_outcome, bool)> done) {
    submit_observed(std::move(r), nullptr, std::move(done));
}

void core_host::submit_observed(request_record r, api::event_observer observer,
                                std::function<void(submit_outcome, bool)> done) {
    auto p = std::make_shared<pending_submit>();
    p->done = std::move(done);
    post([self = shared_from_this(), r = std::move(r), p, observer = std::move(observer)](broker_core& core) mutable {
        auto id = r.id;
        if (observer) self->observers_[id].push_back(std::move(observer));
        // persist() (called inside submit) takes this for the first write.
        // A first write that fails withdraws the request: the client gets
        // 503, so nothing of it may stay queued or running.
        self->durable_waiters_[id] = [p, weak = std::weak_ptr<core_host>(self), id](bool ok) {
            if (!ok)
                if (auto host = weak.lock())
                    host->post([host, id](broker_core& c) {
                        host->observers_.erase(id);
                        if (c.withdraw(id)) log::warn("request {} withdrawn: the store could not write it", id.to_string());
                    });
            p->set_durable(ok);
        };
        auto outcome = core.submit(std::move(r));
        if (outcome.status != submit_status::ok) self->observers_.erase(id);
        if (auto it = self->durable_waiters_.find(id); it != self->durable_waiters_.end()) {
            // Never persisted: refused (unknown space, queue full, duplicate).
            self->durable_waiters_.erase(it);
            p->set_durable(false);
        }
        p->set_outcome(outcome);
    });
}

void core_host::add_watcher(broker_core& core, const uuid& id, std::shared_ptr<net::sse_channel> channel) {
    auto& list = watchers_[id];
    list.push_back(std::move(channel));
    if (list.size() == 1) core.watch(id);
}

void core_host::close_all_agents(std::uint16_t code, std::string reason) {
    post([self = shared_from_this(), code, reason](broker_core&) {
        for (auto& [conn, link] : self->links_) link->close(code, reason);
    });
}

void core_host::send_request(agent_conn_id conn, const request_record& r) {
    auto it = links_.find(conn);
    if (it == links_.end()) return;
    protocol::inference_request_frame f;
    f.request_id = r.id.to_string();
    f.space = r.space;
    f.username = r.username;
    f.prompt = r.prompt;
    f.params_json = r.params_json;
    f.messages_json = r.messages_json;
    for (const auto& in : r.inputs) f.files.push_back({in.blob, in.field, in.name, in.mime, in.size});
    f.deadline = format_rfc3339(r.deadline);
    it->second->send_request(protocol::encode(f), r.id, r.inputs);
}

void core_host::send_cancel(agent_conn_id conn, const uuid& request_id, std::string_view reason) {
    auto it = links_.find(conn);
    if (it == links_.end()) return;
    protocol::cancel_frame f{request_id.to_string(), std::string(reason)};
    it->second->send_cancel(protocol::encode(f), request_id);
}

void core_host::close_agent(agent_conn_id conn, std::uint16_t code, std::string_view reason) {
    auto it = links_.find(conn);
    if (it == links_.end()) return;
    if (code == protocol::close_revoked) log::info("closing agent conn {}: {}", conn, reason);
    it->second->close(code, std::string(reason));
}

void core_host::send_notice(agent_conn_id conn, std::string_view code, std::string_view message) {
    auto it = links_.find(conn);
    if (it == links_.end()) return;
    log::info("agent conn {}: {}", conn, message);
    it->second->send_text(protocol::encode(protocol::error_frame{std::string(code), std::string(message)}));
}

void core_host::persist(const request_record& r) {
    request_store::durable_callback cb;
    bool first = false; // the submit's own write: the one whose failure withdraws the request
    if (auto it = durable_waiters_.find(r.id); it != durable_waiters_.end()) {
        cb = std::move(it->second);
        durable_waiters_.erase(it);
        first = true;
    }
    if (is_terminal(r.state)) ++outcomes_[{r.space, std::string(to_string(r.state))}];
    if (latency_ != nullptr) {
        latency_->observe_request(r);
        // Commit latency: from handing the snapshot over to its durable callback.
        cb = [latency = latency_, start = std::chrono::steady_clock::now(), inner = std::move(cb)](bool ok) {
            latency->observe_commit(std::chrono::steady_clock::now() - start);
            if (inner) inner(ok);
        };
    }
    if (first) store_.write_first(r, std::move(cb));
    else store_.write(r, std::move(cb));
}

void core_host::publish(const request_event& e) {
    bool terminal = false;
    if (auto st = parse_request_state(e.type)) terminal = is_terminal(*st);
    if (auto ob = observers_.find(e.request_id); ob != observers_.end()) {
        auto list = ob->second; // an observer may not outlive its terminal event
        if (terminal) observers_.erase(ob);
        for (auto& o : list) o(e);
    }
    auto it = watchers_.find(e.request_id);
    if (it == watchers_.end()) return;
    auto& list = it->second;
    std::erase_if(list, [](const auto& ch) { return ch->closed(); });
    for (auto& ch : list) {
        ch->push_event(e.id, e.type, e.data_json);
        if (terminal) ch->finish();
    }
    if (terminal || list.empty()) {
        watchers_.erase(it);
        core_.unwatch(e.request_id);
    }
}

void core_host::on_register(std::shared_ptr<net::agent_link> link, protocol::register_frame frame,
                            std::function<void(protocol::registered_frame)> reply) {
    post([self = shared_from_this(), link = std::move(link), frame = std::move(frame),
          reply = std::move(reply)](broker_core& core) mutable {
        auto conn = link->conn();
        self->links_[conn] = link;
        // The reply must reach the agent before any inference_request that the
        // registration dispatches, so the core calls it before dispatching.
        core.register_agent(conn, frame, [&](const protocol::registered_frame& answer) {
            if (broker_core::accepted_any(answer)) {
                log::info("agent {} ({}) registered on conn {}", frame.agent.name, frame.agent.instance, conn);
            }
            reply(answer);
        });
    });
}

void core_host::on_result(agent_conn_id conn, protocol::inference_result_frame frame,
                          std::vector<stored_file> outputs) {
    post([conn, frame = std::move(frame), outputs = std::move(outputs)](broker_core& core) mutable {
        core.on_result(conn, frame, std::move(outputs));
    });
}

void core_host::on_drain(agent_conn_id conn) {
    post([conn](broker_core& core) { core.agent_drain(conn); });
}

void core_host::on_closed(agent_conn_id conn) {
    post([self = shared_from_this(), conn](broker_core& core) {
        if (self->links_.erase(conn) > 0) core.agent_lost(conn);
    });
}

blob_writer core_host::open_output(const uuid& request, std::uint32_t blob, std::uint64_t max_bytes,
                                   std::error_code& ec) {
    return blobs_.open_output(request, blob, max_bytes, ec);
}

} // namespace tether::broker::app

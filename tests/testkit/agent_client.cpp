// Test agent over a real WebSocket; see agent_client.hpp.
#include "testkit/agent_client.hpp"

#include "tether/protocol/blob_header.hpp"
#include "tether/protocol/codec.hpp"
#include "tether/protocol/json_writer.hpp"
#include "tether/shared/ids.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>

namespace tether::testkit {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

struct agent_client::state {
    asio::io_context ioc;
    asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
    websocket::stream<beast::tcp_stream> ws{ioc};
    beast::flat_buffer read_buffer;

    struct outgoing {
        bool binary = false;
        std::string data;
        std::shared_ptr<std::promise<beast::error_code>> done;
    };
    std::deque<outgoing> write_queue; // I/O thread only

    mutable std::mutex mu;
    std::condition_variable cv;
    std::deque<ws_message> inbox;
    bool open = false;
    bool closed = false;
    std::uint16_t close_code = 0;
    std::string error;

    void set_error(std::string e) {
        std::lock_guard lock(mu);
        error = std::move(e);
    }

    void read_loop() {
        ws.async_read(read_buffer, [this](beast::error_code ec, std::size_t) {
            if (ec) {
                std::lock_guard lock(mu);
                closed = true;
                close_code = ec == websocket::error::closed ? static_cast<std::uint16_t>(ws.reason().code) : 1006;
                if (error.empty()) {
                    error = "connection ended: " + ec.message();
                }
                cv.notify_all();
                return;
            }
            ws_message m;
            m.binary = ws.got_binary();
            m.data = beast::buffers_to_string(read_buffer.data());
            read_buffer.consume(read_buffer.size());
            {
                std::lock_guard lock(mu);
                inbox.push_back(std::move(m));
            }
            cv.notify_all();
            read_loop();
        });
    }

    void write_next() {
        auto& front = write_queue.front();
        ws.binary(front.binary);
        ws.async_write(asio::buffer(front.data), [this](beast::error_code ec, std::size_t) {
            write_queue.front().done->set_value(ec);
            write_queue.pop_front();
            if (!write_queue.empty()) {
                write_next();
            }
        });
    }
};

agent_client::agent_client(std::string host, std::uint16_t port, std::string target)
    : st_(std::make_shared<state>()), host_(std::move(host)), port_(port), target_(std::move(target)),
      instance_(random_hex(8)) {
    st_->ws.read_message_max(64U << 20);
    thread_ = std::thread([st = st_] { st->ioc.run(); });
}

agent_client::~agent_client() {
    asio::post(st_->ioc, [st = st_.get()] {
        beast::error_code ec;
        beast::get_lowest_layer(st->ws).socket().close(ec);
        st->work.reset();
    });
    if (thread_.joinable()) {
        thread_.join();
    }
}

std::string agent_client::last_error() const {
    std::lock_guard lock(st_->mu);
    return st_->error;
}

bool agent_client::connect(std::chrono::milliseconds timeout) {
    const std::string host = host_;
    const std::uint16_t port = port_;
    const std::string target = target_;
    auto done = std::make_shared<std::promise<beast::error_code>>();
    auto fut = done->get_future();
    asio::post(st_->ioc, [st = st_, host, port, target, timeout, done] {
        beast::error_code ec;
        tcp::endpoint ep(asio::ip::make_address(host, ec), port);
        if (ec) {
            done->set_value(ec);
            return;
        }
        beast::get_lowest_layer(st->ws).expires_after(timeout);
        beast::get_lowest_layer(st->ws).async_connect(ep, [st, host, port, target, done](beast::error_code e) {
            if (e) {
                done->set_value(e);
                return;
            }
            st->ws.async_handshake(host + ":" + std::to_string(port), target, [st, done](beast::error_code he) {
                beast::get_lowest_layer(st->ws).expires_never();
                if (!he) {
                    {
                        std::lock_guard lock(st->mu);
                        st->open = true;
                    }
                    st->read_loop();
                }
                done->set_value(he);
            });
        });
    });
    if (fut.wait_for(timeout + 1s) != std::future_status::ready) {
        st_->set_error("connect: no answer in time");
        return false;
    }
    auto ec = fut.get();
    if (ec) {
        st_->set_error("connect: " + ec.message());
        return false;
    }
    return true;
}

bool agent_client::send(bool binary, std::string data, std::chrono::milliseconds timeout) {
    if (is_closed()) {
        return false;
    }
    auto done = std::make_shared<std::promise<beast::error_code>>();
    auto fut = done->get_future();
    asio::post(st_->ioc, [st = st_, binary, data = std::move(data), done]() mutable {
        st->write_queue.push_back(state::outgoing{binary, std::move(data), done});
        if (st->write_queue.size() == 1) {
            st->write_next();
        }
    });
    if (fut.wait_for(timeout) != std::future_status::ready) {
        st_->set_error("write: not done in time");
        return false;
    }
    auto ec = fut.get();
    if (ec) {
        st_->set_error("write: " + ec.message());
        return false;
    }
    return true;
}

bool agent_client::send_text(std::string text, std::chrono::milliseconds timeout) {
    return send(false, std::move(text), timeout);
}

bool agent_client::send_binary(std::string bytes, std::chrono::milliseconds timeout) {
    return send(true, std::move(bytes), timeout);
}

std::optional<ws_message> agent_client::next_message(std::chrono::milliseconds timeout) {
    std::unique_lock lock(st_->mu);
    st_->cv.wait_for(lock, timeout, [&] { return !st_->inbox.empty() || st_->closed; });
    if (st_->inbox.empty()) {
        if (!st_->closed) {
            st_->error = "no frame within " + std::to_string(timeout.count()) + " ms";
        }
        return std::nullopt;
    }
    auto m = std::move(st_->inbox.front());
    st_->inbox.pop_front();
    return m;
}

std::optional<protocol::broker_frame> agent_client::next_frame(std::chrono::milliseconds timeout) {
    auto m = next_message(timeout);
    if (!m) {
        return std::nullopt;
    }
    if (m->binary) {
        st_->set_error("expected a text frame, got a binary one of " + std::to_string(m->data.size()) + " bytes");
        return std::nullopt;
    }
    auto parsed = protocol::parse_broker_frame(m->data);
    if (!parsed) {
        st_->set_error("unparsable broker frame (" + parsed.error().message + "): " + m->data.substr(0, 300));
        return std::nullopt;
    }
    return std::move(parsed.value());
}

protocol::space_registration agent_client::space(std::string name, std::string token, std::uint32_t capacity) {
    protocol::space_registration r;
    r.space = std::move(name);
    r.token = std::move(token);
    r.capacity = capacity;
    r.models = {"itest-model"};
    return r;
}

bool agent_client::send_register(const std::vector<protocol::space_registration>& spaces, int protocol_version) {
    protocol::register_frame f;
    f.protocol = protocol_version;
    f.agent = protocol::agent_info{"itest-agent", "0.0.1", instance_};
    f.spaces = spaces;
    return send_text(protocol::encode(f));
}

std::optional<protocol::registered_frame>
agent_client::register_spaces(const std::vector<protocol::space_registration>& spaces,
                              std::chrono::milliseconds timeout) {
    if (!send_register(spaces)) {
        return std::nullopt;
    }
    auto f = next_frame(timeout);
    if (!f) {
        return std::nullopt;
    }
    if (auto* r = std::get_if<protocol::registered_frame>(&*f)) {
        return *r;
    }
    st_->set_error("expected registered, got frame variant #" + std::to_string(f->index()));
    return std::nullopt;
}

bool agent_client::register_space(const std::string& name, const std::string& token, std::uint32_t capacity) {
    auto r = register_spaces({space(name, token, capacity)});
    return r && r->spaces.size() == 1 && r->spaces[0].ok;
}

std::optional<received_request> agent_client::expect_request(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto left = [&] {
        auto l = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        return l.count() > 0 ? l : std::chrono::milliseconds(1);
    };
    auto f = next_frame(left());
    if (!f) {
        return std::nullopt;
    }
    auto* req = std::get_if<protocol::inference_request_frame>(&*f);
    if (req == nullptr) {
        st_->set_error("expected inference_request, got frame variant #" + std::to_string(f->index()));
        return std::nullopt;
    }
    received_request out;
    out.frame = std::move(*req);
    const auto id = uuid::parse(out.frame.request_id);
    std::size_t files_left = out.frame.files.size();
    std::map<std::uint32_t, bool> done;
    while (files_left > 0) {
        auto m = next_message(left());
        if (!m) {
            return std::nullopt;
        }
        auto h = m->binary ? protocol::parse_blob_header(m->data) : std::nullopt;
        if (!h) {
            st_->set_error("expected a blob frame for " + out.frame.request_id);
            return std::nullopt;
        }
        if (!id || h->request_id != id->bytes) {
            st_->set_error("blob frame for another request id");
            return std::nullopt;
        }
        out.blobs[h->blob] += m->data.substr(protocol::blob_header_size);
        if (h->last() && !done[h->blob]) {
            done[h->blob] = true;
            --files_left;
        }
    }
    return out;
}

std::optional<protocol::cancel_frame> agent_client::expect_cancel(std::chrono::milliseconds timeout) {
    auto f = next_frame(timeout);
    if (!f) {
        return std::nullopt;
    }
    if (auto* c = std::get_if<protocol::cancel_frame>(&*f)) {
        return *c;
    }
    st_->set_error("expected cancel, got frame variant #" + std::to_string(f->index()));
    return std::nullopt;
}

std::optional<protocol::error_frame> agent_client::expect_error(std::chrono::milliseconds timeout) {
    auto f = next_frame(timeout);
    if (!f) {
        return std::nullopt;
    }
    if (auto* e = std::get_if<protocol::error_frame>(&*f)) {
        return *e;
    }
    st_->set_error("expected error, got frame variant #" + std::to_string(f->index()));
    return std::nullopt;
}

bool agent_client::send_processing(const std::string& request_id) {
    protocol::inference_result_frame f;
    f.request_id = request_id;
    f.status = protocol::result_status::processing;
    return send_text(protocol::encode(f));
}

bool agent_client::send_delta(const std::string& request_id, std::uint64_t seq, const std::string& text) {
    protocol::inference_result_frame f;
    f.request_id = request_id;
    f.status = protocol::result_status::streaming;
    f.seq = seq;
    f.delta_text = text;
    return send_text(protocol::encode(f));
}

bool agent_client::send_completed(const std::string& request_id, const std::string& output,
                                  const std::vector<protocol::file_ref>& files, std::optional<double> inference_ms) {
    protocol::inference_result_frame f;
    f.request_id = request_id;
    f.status = protocol::result_status::completed;
    f.output = output;
    f.files = files;
    f.inference_ms = inference_ms;
    // The whole result object too, consistent with the fields above, so the
    // frame is the same whichever of them the encoder writes.
    protocol::json_writer w;
    w.begin_object().key("output").value(output);
    if (!files.empty()) {
        w.key("files").begin_array();
        for (const auto& file : files) {
            w.begin_object()
                .key("blob")
                .value(static_cast<std::uint64_t>(file.blob))
                .key("name")
                .value(file.name)
                .key("mime")
                .value(file.mime)
                .key("size")
                .value(file.size)
                .end_object();
        }
        w.end_array();
    }
    w.end_object();
    f.result_json = w.take();
    return send_text(protocol::encode(f));
}

bool agent_client::send_completed_json(const std::string& request_id, const std::string& output,
                                       const std::string& result_json) {
    protocol::inference_result_frame f;
    f.request_id = request_id;
    f.status = protocol::result_status::completed;
    f.output = output;
    f.inference_ms = 5.0;
    f.result_json = result_json;
    return send_text(protocol::encode(f));
}

bool agent_client::send_failed(const std::string& request_id, const std::string& code, const std::string& message) {
    protocol::inference_result_frame f;
    f.request_id = request_id;
    f.status = protocol::result_status::failed;
    f.error = protocol::error_info{code, message};
    return send_text(protocol::encode(f));
}

bool agent_client::send_blob(const std::string& request_id, std::uint32_t blob, const std::string& bytes,
                             std::size_t chunk) {
    auto id = uuid::parse(request_id);
    if (!id) {
        st_->set_error("send_blob: bad request id " + request_id);
        return false;
    }
    std::size_t off = 0;
    do {
        const std::size_t n = std::min(chunk, bytes.size() - off);
        protocol::blob_header h;
        h.request_id = id->bytes;
        h.blob = blob;
        h.flags = off + n >= bytes.size() ? protocol::blob_flag_last : 0U;
        if (!send_binary(protocol::encode_blob_frame(h, std::string_view(bytes).substr(off, n)))) {
            return false;
        }
        off += n;
    } while (off < bytes.size());
    return true;
}

bool agent_client::send_drain() { return send_text(protocol::encode(protocol::drain_frame{})); }

std::optional<std::uint16_t> agent_client::wait_closed(std::chrono::milliseconds timeout) {
    std::unique_lock lock(st_->mu);
    // Frames still queued before the close do not matter to a caller asking this.
    if (!st_->cv.wait_for(lock, timeout, [&] { return st_->closed; })) {
        return std::nullopt;
    }
    return st_->close_code;
}

bool agent_client::is_closed() const {
    std::lock_guard lock(st_->mu);
    return st_->closed;
}

void agent_client::close(std::uint16_t code) {
    auto done = std::make_shared<std::promise<void>>();
    auto fut = done->get_future();
    asio::post(st_->ioc, [st = st_, code, done] {
        st->ws.async_close(websocket::close_reason(code), [done](beast::error_code) { done->set_value(); });
    });
    if (fut.wait_for(3s) != std::future_status::ready) {
        drop();
        return;
    }
    wait_closed(3s);
}

void agent_client::drop() {
    auto done = std::make_shared<std::promise<void>>();
    auto fut = done->get_future();
    asio::post(st_->ioc, [st = st_, done] {
        beast::error_code ec;
        auto& sock = beast::get_lowest_layer(st->ws).socket();
        sock.shutdown(tcp::socket::shutdown_both, ec);
        sock.close(ec);
        done->set_value();
    });
    fut.wait_for(3s);
    wait_closed(3s);
}

} // namespace tether::testkit

#include "net/agent_runner.hpp"

#include "tether/shared/log.hpp"

#include <boost/asio/post.hpp>

#include <csignal>
#include <stdexcept>

namespace tether::agent {

namespace asio = boost::asio;
using boost::system::error_code;

agent_runner::agent_runner(runner_settings settings, backend& be, std::size_t workers)
    : settings_(std::move(settings)), backend_(be), signals_(ioc_, SIGTERM, SIGINT), retry_timer_(ioc_),
      backoff_(settings_.backoff), pool_(workers) {
    if (settings_.connection.url.tls) {
        tls_.emplace(asio::ssl::context::tls_client);
        error_code ec;
        if (settings_.insecure) {
            log::warn("--insecure: the broker's certificate is NOT verified");
            tls_->set_verify_mode(asio::ssl::verify_none);
        } else {
            tls_->set_verify_mode(asio::ssl::verify_peer);
            if (!settings_.ca_file.empty()) {
                tls_->load_verify_file(settings_.ca_file, ec);
                if (ec) throw std::invalid_argument("--ca-file " + settings_.ca_file + ": " + ec.message());
            } else {
                tls_->set_default_verify_paths(ec);
                if (ec) throw std::runtime_error("cannot load the system's CA certificates: " + ec.message());
            }
        }
    }
}

agent_runner::~agent_runner() = default;

int agent_runner::run() {
    signals_.async_wait([this](error_code ec, int sig) {
        if (!ec) on_signal(sig);
    });
    connect();
    ioc_.run();
    return exit_code_;
}

void agent_runner::connect() {
    conn_ = std::make_shared<agent_connection>(ioc_, tls_ ? &*tls_ : nullptr, settings_.connection, backend_, pool_,
                                               [this](connection_outcome out) {
                                                   // Back onto the runner's own context, off the connection's strand.
                                                   asio::post(ioc_, [this, out = std::move(out)] { on_finished(out); });
                                               });
    conn_->start();
}

void agent_runner::on_finished(connection_outcome out) {
    conn_.reset();
    if (out.what == connection_outcome::kind::fatal) {
        log::error("{}; not retrying (fix the token or space name, then restart)", out.message);
        stop(exit_refused);
        return;
    }
    if (stopping_) {
        log::info("stopped");
        stop(exit_ok);
        return;
    }
    backoff_.connection_ended(std::chrono::duration_cast<std::chrono::milliseconds>(out.uptime));
    const auto delay = backoff_.next_delay();
    log::warn("{}; reconnecting in {} ms", out.message.empty() ? "connection ended" : out.message, delay.count());
    retry_timer_.expires_after(delay);
    retry_timer_.async_wait([this](error_code ec) {
        if (!ec && !stopping_) connect();
    });
}

void agent_runner::on_signal(int sig) {
    if (stopping_) {
        log::warn("second signal {}: stopping now", sig);
        if (conn_) {
            conn_->abort(); // its outcome arrives through on_finished, which stops
        } else {
            stop(exit_ok);
        }
        return;
    }
    stopping_ = true;
    log::info("signal {}: draining (grace {} ms)", sig, settings_.grace.count());
    signals_.async_wait([this](error_code ec, int s) {
        if (!ec) on_signal(s);
    });
    if (conn_) {
        conn_->drain(settings_.grace);
    } else {
        retry_timer_.cancel();
        stop(exit_ok);
    }
}

void agent_runner::stop(int code) {
    exit_code_ = code;
    retry_timer_.cancel();
    signals_.cancel();
    ioc_.stop();
}

} // namespace tether::agent

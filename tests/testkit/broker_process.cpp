// The broker under test as a child process; see broker_process.hpp.
#include "testkit/broker_process.hpp"

#include "testkit/agent_client.hpp"
#include "testkit/http_client.hpp"
#include "testkit/wait.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <csignal>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace tether::testkit {

namespace asio = boost::asio;

std::uint16_t free_port() {
    asio::io_context ioc;
    asio::ip::tcp::acceptor acceptor(ioc, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return acceptor.local_endpoint().port();
}

broker_process::broker_process(broker_paths paths)
    : paths_(std::move(paths)), data_dir_(dir_.path() + "/data"), stderr_path_(dir_.path() + "/broker.stderr"),
      stdout_path_(dir_.path() + "/broker.stdout"), port_(free_port()) {
    std::filesystem::create_directories(data_dir_);
}

broker_process::~broker_process() {
    if (child_.running()) {
        child_.kill_now();
    }
}

run_result broker_process::admin(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    std::vector<std::string> argv{paths_.bin};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.emplace_back("--data");
    argv.push_back(data_dir_);
    return run_to_completion(argv, env, dir_.path(), 20s);
}

namespace {

std::string describe_run(const std::vector<std::string>& args, const run_result& r) {
    std::ostringstream ss;
    ss << "tether-broker";
    for (const auto& a : args) {
        ss << ' ' << a;
    }
    ss << " -> " << r.status.describe() << "\nstdout: " << r.out << "\nstderr: " << r.err;
    return ss.str();
}

// The token is the last word printed that looks like one (long, no spaces):
// the command may print it alone or after a label.
std::string last_token(const std::string& out) {
    std::istringstream in(out);
    std::string word;
    std::string best;
    while (in >> word) {
        if (word.size() >= 16) {
            best = word;
        }
    }
    return best;
}

} // namespace

void broker_process::add_user(const std::string& name, const std::string& password, bool admin_flag) {
    std::vector<std::string> args{"user", "add", name};
    if (admin_flag) {
        args.emplace_back("--admin");
    }
    auto r = admin(args, {"TETHER_PASSWORD=" + password});
    if (!r.status.exited || r.status.code != 0) {
        throw std::runtime_error(describe_run(args, r));
    }
}

std::string broker_process::add_space(const std::string& name, const space_options& o) {
    std::vector<std::string> args{"space",   "add", name, "--features", o.features, "--timeout", std::to_string(o.timeout_s),
                                  "--queue-limit", std::to_string(o.queue_limit)};
    if (!o.description.empty()) {
        args.emplace_back("--description");
        args.push_back(o.description);
    }
    auto r = admin(args);
    std::string token = last_token(r.out);
    if (!r.status.exited || r.status.code != 0 || token.empty()) {
        throw std::runtime_error(describe_run(args, r));
    }
    return token;
}

std::string broker_process::add_api_key(const std::string& user) {
    std::vector<std::string> args{"apikey", "add", user};
    auto r = admin(args);
    std::string key = last_token(r.out);
    if (!r.status.exited || r.status.code != 0 || key.empty()) {
        throw std::runtime_error(describe_run(args, r));
    }
    return key;
}

void broker_process::start(const std::vector<std::string>& extra_args) {
    extra_args_ = extra_args;
    std::vector<std::string> argv{paths_.bin,
                                  "serve",
                                  "--listen",
                                  host_ + ":" + std::to_string(port_),
                                  "--data",
                                  data_dir_,
                                  "--web",
                                  paths_.web_dir};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    child_.start(argv, {}, stdout_path_, stderr_path_);

    http_client probe(host_, port_);
    probe.set_timeout(1s);
    bool healthy = eventually(
        [&] {
            if (!child_.running()) {
                return true; // stop polling; reported below
            }
            return probe.get("/healthz").status == 200;
        },
        15s, 50ms);
    if (!child_.running()) {
        throw std::runtime_error("tether-broker serve exited during start-up (" +
                                 child_.status().value_or(exit_status{}).describe() + ")\nstderr:\n" + stderr_tail());
    }
    if (!healthy) {
        child_.kill_now();
        throw std::runtime_error("tether-broker serve did not answer GET /healthz with 200 within 15 s\nstderr:\n" +
                                 stderr_tail());
    }
}

exit_status broker_process::stop(std::chrono::milliseconds timeout) {
    child_.signal(SIGTERM);
    if (auto st = child_.wait_for(timeout)) {
        return *st;
    }
    return child_.kill_now();
}

exit_status broker_process::kill9() { return child_.kill_now(); }

void broker_process::restart() {
    if (child_.running()) {
        throw std::logic_error("broker_process::restart while running");
    }
    start(extra_args_);
}

bool broker_process::running() { return child_.running(); }

std::string broker_process::stderr_tail(std::size_t max_bytes) const {
    std::string all = read_file(stderr_path_);
    if (all.size() > max_bytes) {
        return "..." + all.substr(all.size() - max_bytes);
    }
    return all;
}

std::string broker_process::ws_url() const { return "ws://" + host_ + ":" + std::to_string(port_) + "/agent"; }

http_client broker_process::client() const { return http_client(host_, port_); }

std::unique_ptr<agent_client> broker_process::agent() const { return std::make_unique<agent_client>(host_, port_); }

} // namespace tether::testkit

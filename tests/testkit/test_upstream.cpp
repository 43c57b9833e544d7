#include "testkit/test_upstream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

namespace tether::testkit {
namespace {

constexpr std::size_t max_request = 64U << 20;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// Reads until `have` holds a whole request (head and Content-Length body);
// false when the client closed first or sent something else.
bool read_request(int fd, upstream_request& req) {
    std::string have;
    char buf[65536];
    std::size_t head_end = std::string::npos, need = 0;
    for (;;) {
        if (head_end == std::string::npos) {
            head_end = have.find("\r\n\r\n");
            if (head_end != std::string::npos) {
                std::string head = have.substr(0, head_end);
                auto line_end = head.find("\r\n");
                std::string first = head.substr(0, line_end);
                auto sp1 = first.find(' '), sp2 = first.rfind(' ');
                if (sp1 == std::string::npos || sp2 == sp1) return false;
                req.method = first.substr(0, sp1);
                req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
                std::size_t at = line_end == std::string::npos ? head.size() : line_end + 2;
                while (at < head.size()) {
                    auto e = head.find("\r\n", at);
                    if (e == std::string::npos) e = head.size();
                    std::string line = head.substr(at, e - at);
                    auto colon = line.find(':');
                    if (colon != std::string::npos) {
                        std::string v = line.substr(colon + 1);
                        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
                        req.headers[lower(line.substr(0, colon))] = v;
                    }
                    at = e + 2;
                }
                need = req.headers.count("content-length") ? std::stoull(req.headers["content-length"]) : 0;
                if (need > max_request) return false;
            }
        }
        if (head_end != std::string::npos && have.size() >= head_end + 4 + need) {
            req.body = have.substr(head_end + 4, need);
            return true;
        }
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 10'000) <= 0) return false;
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return false;
        have.append(buf, static_cast<std::size_t>(n));
        if (have.size() > max_request + 65536) return false;
    }
}

} // namespace

bool upstream_conn::send(std::string_view bytes) {
    if (gone_ || stopping_) return false;
    while (!bytes.empty()) {
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, 10'000) <= 0) {
            gone_ = true;
            return false;
        }
        const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) {
            gone_ = true;
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    // A client that closed shows as a readable EOF (or a reset) before a
    // write fails: look, so a test learns of the close at once.
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
        char c;
        const auto n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) gone_ = true;
    }
    return !gone_;
}

bool upstream_conn::chunked_head(int status, const std::string& content_type) {
    return send("HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + content_type +
                "\r\nTransfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n");
}

bool upstream_conn::chunk(std::string_view data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return send(std::string(size) + std::string(data) + "\r\n");
}

bool upstream_conn::end() { return send("0\r\n\r\n"); }

bool upstream_conn::pause(std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
        if (stopping_) return false;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 20) > 0) {
            char c;
            const auto n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                gone_ = true;
                return false;
            }
        }
    }
    return true;
}

void upstream_conn::reset() {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    reset_ = true;
}

std::string http_answer(int status, const std::string& content_type, std::string_view body, const std::string& extra_headers) {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + content_type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + std::string(body);
}

test_upstream::test_upstream(handler h, std::uint16_t port) : handler_(std::move(h)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 64) != 0) {
        ::close(listen_fd_);
        throw std::runtime_error("test_upstream: cannot listen on 127.0.0.1:" + std::to_string(port));
    }
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

test_upstream::~test_upstream() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    ::close(listen_fd_);
    {
        std::lock_guard lock(mutex_);
        for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
}

std::vector<upstream_request> test_upstream::requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

void test_upstream::accept_loop() {
    while (!stopping_) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (stopping_) return;
            continue;
        }
        ++connections_;
        std::lock_guard lock(mutex_);
        open_fds_.push_back(fd);
        threads_.emplace_back([this, fd] { serve(fd); });
    }
}

void test_upstream::serve(int fd) {
    for (;;) {
        upstream_request req;
        if (!read_request(fd, req)) break;
        {
            std::lock_guard lock(mutex_);
            requests_.push_back(req);
        }
        upstream_conn conn(fd, stopping_);
        handler_(req, conn);
        if (conn.client_gone() && !stopping_) ++client_closes_;
        if (conn.reset_ || conn.client_gone()) break;
        if (!keep_alive_) {
            ::shutdown(fd, SHUT_WR);
            break;
        }
    }
    std::lock_guard lock(mutex_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
    ::close(fd);
}

} // namespace tether::testkit

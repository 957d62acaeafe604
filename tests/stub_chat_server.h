// A stub OpenAI-compatible chat server for tests: listens on 127.0.0.1 at an ephemeral
// port, serves one connection at a time on its own thread, records every request and
// answers with what the test's handler returns (a status and body, a chunked body, raw
// bytes, or no answer at all until the client gives up). Every wait is a short poll, so
// the destructor returns within a few milliseconds.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sightline::test {

struct StubRequest {
  std::string method, path;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct StubReply {
  int status = 200;
  std::string body;
  bool chunked = false;  // send the body in small chunks (Transfer-Encoding: chunked)
  bool hang = false;     // never answer: hold the connection until the client closes it
  std::string raw;       // non-empty: send these bytes as the whole response
};

// {"choices":[{"message":{"role":"assistant","content": content}}]}
inline std::string chat_completion_body(const std::string& content) {
  return nlohmann::json{{"id", "stub"},
                        {"object", "chat.completion"},
                        {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}}}}}}
      .dump();
}

class StubChatServer {
 public:
  using Handler = std::function<StubReply(const StubRequest&)>;

  explicit StubChatServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("stub server: socket() failed");
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(fd_);
      throw std::runtime_error("stub server: bind/listen on 127.0.0.1 failed");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~StubChatServer() {
    stop_.store(true);
    thread_.join();
    ::close(fd_);
  }
  StubChatServer(const StubChatServer&) = delete;
  StubChatServer& operator=(const StubChatServer&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:PORT/v1"
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  std::vector<StubRequest> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  // poll() one fd for up to 10 ms; true when ready.
  static bool ready(int fd, short events) {
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, 10) > 0;
  }

  void loop() {
    while (!stop_.load()) {
      if (!ready(fd_, POLLIN)) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      serve(c);
      ::close(c);
    }
  }

  // Reads one request; false when the client went away or the server stops first.
  bool read_request(int c, StubRequest& req) {
    std::string raw;
    char buf[4096];
    size_t head_end = std::string::npos;
    size_t length = 0;
    while (!stop_.load()) {
      if (head_end == std::string::npos) {
        head_end = raw.find("\r\n\r\n");
        if (head_end != std::string::npos) {
          const std::string head = raw.substr(0, head_end);
          size_t line_end = head.find("\r\n");
          const std::string first = head.substr(0, line_end);
          const size_t sp1 = first.find(' '), sp2 = first.find(' ', sp1 + 1);
          req.method = first.substr(0, sp1);
          req.path = first.substr(sp1 + 1, sp2 - sp1 - 1);
          size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
          while (pos < head.size()) {
            size_t e = head.find("\r\n", pos);
            if (e == std::string::npos) e = head.size();
            const std::string line = head.substr(pos, e - pos);
            const size_t colon = line.find(':');
            std::string name = line.substr(0, colon);
            std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
            std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
            while (!value.empty() && value[0] == ' ') value.erase(0, 1);
            req.headers[name] = value;
            pos = e + 2;
          }
          length = req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
        }
      }
      if (head_end != std::string::npos && raw.size() >= head_end + 4 + length) {
        req.body = raw.substr(head_end + 4, length);
        return true;
      }
      if (!ready(c, POLLIN)) continue;
      const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) return false;
      raw.append(buf, static_cast<size_t>(n));
    }
    return false;
  }

  void send_all(int c, const std::string& data) {
    size_t sent = 0;
    while (sent < data.size() && !stop_.load()) {
      const ssize_t n = ::send(c, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  void serve(int c) {
    StubRequest req;
    if (!read_request(c, req)) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(req);
    }
    const StubReply reply = handler_(req);
    if (reply.hang) {
      // Until the client closes (recv returns 0) or the server stops.
      char buf[256];
      while (!stop_.load()) {
        if (!ready(c, POLLIN)) continue;
        if (::recv(c, buf, sizeof(buf), 0) <= 0) return;
      }
      return;
    }
    if (!reply.raw.empty()) {
      send_all(c, reply.raw);
      return;
    }
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + (reply.status == 200 ? " OK" : " Error") +
                      "\r\nContent-Type: application/json\r\nConnection: close\r\n";
    if (reply.chunked) {
      out += "Transfer-Encoding: chunked\r\n\r\n";
      // Small chunks with hex sizes, one with an extension, to exercise the decoder.
      for (size_t i = 0; i < reply.body.size(); i += 23) {
        const std::string part = reply.body.substr(i, 23);
        char size[32];
        std::snprintf(size, sizeof(size), "%zx", part.size());
        out += std::string(size) + (i == 0 ? ";ext=1" : "") + "\r\n" + part + "\r\n";
      }
      out += "0\r\n\r\n";
    } else {
      out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n\r\n" + reply.body;
    }
    send_all(c, out);
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<StubRequest> requests_;
};

}  // namespace sightline::test

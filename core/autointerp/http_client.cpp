#include "core/autointerp/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/common/error.h"

namespace sightline {

namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string http_trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return s.substr(b, e - b);
}

Clock::time_point deadline_after(double seconds) {
  return Clock::now() + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
}

// Closes the socket on every exit path.
struct Socket {
  int fd = -1;
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
};

// Waits until `fd` is ready for `events`, in slices of poll_interval_ms, checking the
// cancel flag between slices. Throws on timeout (naming `phase`) and on cancel.
void wait_ready(int fd, short events, Clock::time_point deadline, double timeout_s, const HttpOptions& o,
                const HttpUrl& url, const char* phase) {
  while (true) {
    if (o.cancelled && o.cancelled()) throw Cancelled();
    const auto now = Clock::now();
    if (now >= deadline) fail("{}: timed out after {} s {}", url.text, timeout_s, phase);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
    const int slice = static_cast<int>(std::min<int64_t>(left, std::max(1, o.poll_interval_ms)));
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, slice);
    if (r > 0) return;  // ready, or an error/hang-up the next call reports
    if (r < 0 && errno != EINTR) fail("{}: poll failed {}: {}", url.text, phase, std::strerror(errno));
  }
}

// Connects to the first address that accepts, within the connect timeout.
int connect_to(const HttpUrl& url, const HttpOptions& o) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(url.port);
  const int gai = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &list);
  if (gai != 0) fail("{}: cannot resolve host '{}': {}", url.text, url.host, ::gai_strerror(gai));
  std::string last_error = "no address";
  const auto deadline = deadline_after(o.connect_timeout_s);
  for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
    Socket s;
    s.fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (s.fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int err = 0;
    if (::connect(s.fd, a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        err = errno;
      } else {
        try {
          wait_ready(s.fd, POLLOUT, deadline, o.connect_timeout_s, o, url, "connecting");
        } catch (...) {
          ::freeaddrinfo(list);
          throw;
        }
        socklen_t len = sizeof(err);
        if (::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    if (err == 0) {
      ::freeaddrinfo(list);
      const int fd = s.fd;
      s.fd = -1;
      return fd;
    }
    last_error = err == ECONNREFUSED ? "connection refused" : std::strerror(err);
  }
  ::freeaddrinfo(list);
  fail("{}: cannot connect to {}:{}: {}", url.text, url.host, url.port, last_error);
}

void send_all(int fd, const std::string& data, Clock::time_point deadline, const HttpOptions& o, const HttpUrl& url) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      wait_ready(fd, POLLOUT, deadline, o.read_timeout_s, o, url, "sending the request");
      continue;
    }
    fail("{}: sending the request failed after {} of {} bytes: {}", url.text, sent, data.size(),
         n < 0 ? std::strerror(errno) : "connection closed");
  }
}

size_t parse_size(const std::string& text, int base, const std::string& what) {
  const std::string t = http_trim(text);
  check(!t.empty(), "{}: empty number", what);
  size_t v = 0;
  for (char c : t) {
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    check(d >= 0, "{}: '{}' is not a number", what, t);
    check(v <= (SIZE_MAX - static_cast<size_t>(d)) / static_cast<size_t>(base), "{}: '{}' is too large", what, t);
    v = v * static_cast<size_t>(base) + static_cast<size_t>(d);
  }
  return v;
}

// The parsed head of a response: status line and headers.
struct Head {
  int status = 0;
  std::string reason;
  HttpHeaders headers;
  size_t body_start = 0;
};

Head parse_head(const std::string& raw, size_t end, const HttpUrl& url) {
  Head h;
  size_t line_end = raw.find("\r\n");
  const std::string status_line = raw.substr(0, line_end);
  // "HTTP/1.1 200 OK"
  const size_t sp1 = status_line.find(' ');
  if (status_line.rfind("HTTP/", 0) != 0 || sp1 == std::string::npos || status_line.size() < sp1 + 4)
    fail("{}: malformed HTTP status line '{}'", url.text, status_line.substr(0, 80));
  const std::string code = status_line.substr(sp1 + 1, 3);
  if (!std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }))
    fail("{}: malformed HTTP status line '{}'", url.text, status_line.substr(0, 80));
  h.status = std::stoi(code);
  h.reason = http_trim(status_line.size() > sp1 + 4 ? status_line.substr(sp1 + 5) : "");
  size_t pos = line_end + 2;
  while (pos < end) {
    const size_t next = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, next - pos);
    const size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0)
      fail("{}: malformed HTTP header line '{}'", url.text, line.substr(0, 80));
    h.headers.emplace_back(http_trim(line.substr(0, colon)), http_trim(line.substr(colon + 1)));
    pos = next + 2;
  }
  h.body_start = end + 4;
  return h;
}

std::string header_of(const HttpHeaders& headers, const std::string& name) {
  const std::string want = lower(name);
  for (const auto& [k, v] : headers)
    if (lower(k) == want) return v;
  return "";
}

}  // namespace

HttpUrl parse_http_url(const std::string& url) {
  HttpUrl u;
  u.text = url;
  const std::string l = lower(url);
  if (l.rfind("https://", 0) == 0)
    fail("endpoint '{}': https is not supported: TLS is not built in; use an http:// URL, e.g. a local http proxy in "
         "front of the endpoint",
         url);
  if (l.rfind("http://", 0) != 0) fail("endpoint '{}': not an http:// URL", url);
  std::string rest = url.substr(7);
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (const size_t at = authority.rfind('@'); at != std::string::npos)
    fail("endpoint '{}': credentials in the URL are not supported (the key comes from api_key_env)", url);
  std::string port_text;
  if (!authority.empty() && authority[0] == '[') {  // [IPv6]:port
    const size_t close = authority.find(']');
    if (close == std::string::npos) fail("endpoint '{}': unterminated '[' in the host", url);
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') fail("endpoint '{}': unexpected text after ']'", url);
      port_text = authority.substr(close + 2);
    }
  } else {
    const size_t colon = authority.find(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) fail("endpoint '{}': no host", url);
  if (!port_text.empty()) {
    size_t port = 0;
    try {
      port = parse_size(port_text, 10, "port");
    } catch (const Error&) {
      fail("endpoint '{}': bad port '{}'", url, port_text);
    }
    if (port == 0 || port > 65535) fail("endpoint '{}': port {} is outside 1-65535", url, port);
    u.port = static_cast<int>(port);
  }
  if (const size_t hash = u.path.find('#'); hash != std::string::npos) u.path.resize(hash);
  return u;
}

std::string HttpResponse::header(const std::string& name) const { return header_of(headers, name); }

bool decode_chunked(const std::string& raw, size_t start, std::string& out, const std::string& what) {
  std::string body;
  size_t pos = start;
  while (true) {
    const size_t line_end = raw.find("\r\n", pos);
    if (line_end == std::string::npos) return false;
    std::string size_text = raw.substr(pos, line_end - pos);
    if (const size_t semi = size_text.find(';'); semi != std::string::npos) size_text.resize(semi);  // extensions
    const size_t n = parse_size(size_text, 16, what + ": chunk size");
    pos = line_end + 2;
    if (n == 0) {
      // Trailer headers until a blank line.
      while (true) {
        const size_t e = raw.find("\r\n", pos);
        if (e == std::string::npos) return false;
        if (e == pos) {
          out = std::move(body);
          return true;
        }
        pos = e + 2;
      }
    }
    if (raw.size() < pos + n + 2) return false;
    body.append(raw, pos, n);
    pos += n;
    check(raw.compare(pos, 2, "\r\n") == 0, "{}: chunk of {} bytes is not followed by CRLF", what, n);
    pos += 2;
  }
}

HttpResponse http_post(const HttpUrl& url, const HttpHeaders& headers, const std::string& body,
                       const HttpOptions& o) {
  if (o.cancelled && o.cancelled()) throw Cancelled();
  Socket s;
  s.fd = connect_to(url, o);
  const auto deadline = deadline_after(o.read_timeout_s);

  const bool v6 = url.host.find(':') != std::string::npos;
  std::string request = "POST " + url.path + " HTTP/1.1\r\n";
  request += "Host: " + (v6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port) + "\r\n";
  for (const auto& [k, v] : headers) request += k + ": " + v + "\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  request += body;
  send_all(s.fd, request, deadline, o, url);

  std::string raw;
  Head head;
  bool have_head = false;
  bool chunked = false;
  bool has_length = false;
  size_t length = 0;
  char buf[16384];
  while (true) {
    // Complete yet?
    if (!have_head) {
      const size_t end = raw.find("\r\n\r\n");
      if (end != std::string::npos) {
        head = parse_head(raw, end, url);
        if (head.status >= 100 && head.status < 200) {  // interim (100 Continue): skip it
          raw.erase(0, head.body_start);
          continue;
        }
        have_head = true;
        chunked = lower(header_of(head.headers, "Transfer-Encoding")).find("chunked") != std::string::npos;
        const std::string cl = header_of(head.headers, "Content-Length");
        if (!chunked && !cl.empty()) {
          length = parse_size(cl, 10, url.text + ": header Content-Length");
          has_length = true;
          check(length <= o.max_response_bytes, "{}: Content-Length {} exceeds the {}-byte limit", url.text, length,
                o.max_response_bytes);
        }
      }
    }
    if (have_head) {
      HttpResponse r;
      bool complete = false;
      if (chunked) {
        complete = decode_chunked(raw, head.body_start, r.body, url.text);
      } else if (has_length && raw.size() >= head.body_start + length) {
        r.body = raw.substr(head.body_start, length);
        complete = true;
      } else if (head.status == 204 || head.status == 304) {
        complete = true;
      }
      if (complete) {
        r.status = head.status;
        r.reason = head.reason;
        r.headers = std::move(head.headers);
        return r;
      }
    }
    check(raw.size() <= o.max_response_bytes + 65536, "{}: response exceeds the {}-byte limit", url.text,
          o.max_response_bytes);

    wait_ready(s.fd, POLLIN, deadline, o.read_timeout_s, o, url, "waiting for the response");
    const ssize_t n = ::recv(s.fd, buf, sizeof(buf), 0);
    if (n > 0) {
      raw.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0) fail("{}: reading the response failed: {}", url.text, std::strerror(errno));
    // EOF: complete only for a body delimited by the connection's close.
    if (have_head && !chunked && !has_length) {
      HttpResponse r;
      r.status = head.status;
      r.reason = head.reason;
      r.body = raw.substr(head.body_start);
      r.headers = std::move(head.headers);
      return r;
    }
    if (!have_head)
      fail("{}: the server closed the connection {}", url.text,
           raw.empty() ? "without a response" : "in the middle of the response headers");
    if (has_length)
      fail("{}: the server closed the connection after {} of {} body bytes", url.text, raw.size() - head.body_start,
           length);
    fail("{}: the server closed the connection before the last chunk of the response", url.text);
  }
}

}  // namespace sightline

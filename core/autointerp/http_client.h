// A minimal HTTP/1.1 client over POSIX sockets for the auto-interpretation endpoint: one
// POST per connection ("Connection: close"), plain http:// only (no TLS is built in; an
// https endpoint goes through a local http proxy). Every wait is a poll() of at most
// HttpOptions::poll_interval_ms, so a timeout or a cancel is noticed within that interval
// and a slow or silent server can never hold the caller for longer than its timeouts.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace sightline {

// "http://host[:port][/path]", split.
struct HttpUrl {
  std::string host;  // a name or an IPv4 address; "[::1]" style IPv6 literals unbracketed
  int port = 80;
  std::string path = "/";  // always starts with '/'
  std::string text;        // the URL as given, for messages
};

// Parses an http:// URL. Throws Error naming the URL for an https:// one ("TLS is not built
// in: use an http:// URL, e.g. a local http proxy in front of the endpoint"), another
// scheme, an empty host or a bad port.
HttpUrl parse_http_url(const std::string& url);

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpOptions {
  double connect_timeout_s = 10;  // name lookup excluded (getaddrinfo cannot be interrupted)
  // The whole response, counted from the moment the request starts to be sent: a server
  // that trickles bytes cannot extend it.
  double read_timeout_s = 60;
  // Polled between waits; when it returns true the call throws Cancelled.
  std::function<bool()> cancelled;
  int poll_interval_ms = 20;
  size_t max_response_bytes = size_t{64} << 20;  // a larger response is an error
};

struct HttpResponse {
  int status = 0;
  std::string reason;
  HttpHeaders headers;  // as received, names in their original case
  std::string body;     // de-chunked
  // The first header called `name` (case-insensitive), or "" when absent.
  std::string header(const std::string& name) const;
};

// POSTs `body` to `url` with `headers` (Host, Content-Length and Connection are added) and
// returns the response, whatever its status. Reads Content-Length, chunked, or
// until-close bodies. Throws Cancelled when options.cancelled() turns true while waiting,
// and Error naming the URL for: connection refused, connect or response timeout, a
// connection closed before the response was complete, a malformed status line, header or
// chunk, a response over max_response_bytes, and other socket errors (with strerror).
HttpResponse http_post(const HttpUrl& url, const HttpHeaders& headers, const std::string& body,
                       const HttpOptions& options);

// Decodes a complete chunked body from raw[start...]: returns true and fills `out` when
// the final 0-size chunk (and the trailer's blank line) has arrived, false when more bytes
// are needed. Throws Error (naming `what`) on a malformed chunk size or terminator.
bool decode_chunked(const std::string& raw, size_t start, std::string& out, const std::string& what);

}  // namespace sightline

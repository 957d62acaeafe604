#include "core/autointerp/chat_client.h"

#include <cstdlib>

#include "core/common/error.h"

namespace sightline {

namespace {

// The first `n` characters of a body for an error message, on one line.
std::string chat_excerpt(const std::string& text, size_t n = 200) {
  std::string out = text.substr(0, n);
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  if (text.size() > n) out += "...";
  return out;
}

// The error text of a non-2xx body: OpenAI's {"error": {"message": ...}}, {"error": "..."},
// {"message": ...} or {"detail": ...} (FastAPI servers), else the start of the body.
std::string error_message(const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    if (j.contains("error")) {
      const auto& e = j["error"];
      if (e.is_string()) return e.get<std::string>();
      if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
    }
    for (const char* key : {"message", "detail"})
      if (j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
  }
  return body.empty() ? "(empty body)" : chat_excerpt(body);
}

}  // namespace

ChatPart ChatPart::of_text(std::string t) {
  ChatPart p;
  p.text = std::move(t);
  return p;
}

ChatPart ChatPart::of_png(std::string png) {
  ChatPart p;
  p.image_png = std::move(png);
  return p;
}

ChatMessage ChatMessage::of_text(std::string role, std::string text) {
  ChatMessage m;
  m.role = std::move(role);
  m.parts.push_back(ChatPart::of_text(std::move(text)));
  return m;
}

std::string base64_encode(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

ChatClient::ChatClient(ChatEndpoint endpoint) : endpoint_(std::move(endpoint)) {
  std::string base = endpoint_.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  url_ = parse_http_url(base + "/chat/completions");
  check(!endpoint_.model.empty(), "endpoint '{}': no model name configured", endpoint_.base_url);
  check(endpoint_.connect_timeout_s > 0 && endpoint_.read_timeout_s > 0,
        "endpoint '{}': timeouts must be positive (connect {} s, read {} s)", endpoint_.base_url,
        endpoint_.connect_timeout_s, endpoint_.read_timeout_s);
  if (!endpoint_.api_key_env.empty()) {
    const char* key = std::getenv(endpoint_.api_key_env.c_str());
    check(key != nullptr && *key != '\0',
          "endpoint '{}': the API key variable '{}' (api_key_env) is not set; export it, or set api_key_env to \"\" "
          "for an endpoint that needs no key",
          endpoint_.base_url, endpoint_.api_key_env);
    api_key_ = key;
  }
}

nlohmann::json ChatClient::request_body(const std::vector<ChatMessage>& messages) const {
  nlohmann::json msgs = nlohmann::json::array();
  for (const auto& m : messages) {
    bool has_image = false;
    for (const auto& p : m.parts) has_image = has_image || !p.image_png.empty();
    nlohmann::json content;
    if (!has_image) {
      std::string text;
      for (const auto& p : m.parts) text += p.text;
      content = text;
    } else {
      content = nlohmann::json::array();
      for (const auto& p : m.parts) {
        if (!p.image_png.empty()) {
          content.push_back({{"type", "image_url"},
                             {"image_url", {{"url", "data:image/png;base64," + base64_encode(p.image_png)}}}});
        } else {
          content.push_back({{"type", "text"}, {"text", p.text}});
        }
      }
    }
    msgs.push_back({{"role", m.role}, {"content", std::move(content)}});
  }
  // temperature 0: the same prompt gives the same description where the server allows.
  return {{"model", endpoint_.model}, {"messages", std::move(msgs)}, {"temperature", 0}};
}

std::string ChatClient::complete(const std::vector<ChatMessage>& messages,
                                 const std::function<bool()>& cancelled) const {
  HttpHeaders headers{{"Content-Type", "application/json"}, {"Accept", "application/json"}};
  if (!api_key_.empty()) headers.emplace_back("Authorization", "Bearer " + api_key_);
  HttpOptions o;
  o.connect_timeout_s = endpoint_.connect_timeout_s;
  o.read_timeout_s = endpoint_.read_timeout_s;
  o.cancelled = cancelled;
  // dump with replacement: a tokenizer's partial UTF-8 bytes must not abort the request.
  const std::string body = request_body(messages).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const HttpResponse r = http_post(url_, headers, body, o);
  if (r.status < 200 || r.status >= 300)
    fail("{}: HTTP {}{}: {}", url_.text, r.status, r.reason.empty() ? "" : " " + r.reason, error_message(r.body));
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) fail("{}: the response is not JSON: '{}'", url_.text, chat_excerpt(r.body));
  if (!j.is_object() || !j.contains("choices")) fail("{}: the response JSON has no field 'choices'", url_.text);
  const auto& choices = j["choices"];
  if (!choices.is_array() || choices.empty())
    fail("{}: the response field 'choices' is not a non-empty array", url_.text);
  const auto& c0 = choices[0];
  if (!c0.is_object() || !c0.contains("message"))
    fail("{}: the response JSON has no field 'choices[0].message'", url_.text);
  const auto& msg = c0["message"];
  if (!msg.is_object() || !msg.contains("content"))
    fail("{}: the response JSON has no field 'choices[0].message.content'", url_.text);
  if (!msg["content"].is_string())
    fail("{}: the response field 'choices[0].message.content' is not a string", url_.text);
  return msg["content"].get<std::string>();
}

}  // namespace sightline

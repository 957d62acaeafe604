// A client for an OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp server, ...):
// POST {base_url}/chat/completions with {"model", "messages", "temperature": 0} and the
// reply's choices[0].message.content. Images go in as base64 PNG data URLs in
// "image_url" content parts (the OpenAI vision message format).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/autointerp/http_client.h"

namespace sightline {

struct ChatEndpoint {
  std::string base_url;     // e.g. "http://127.0.0.1:8000/v1" (http:// only)
  std::string model;        // the "model" field of each request
  std::string api_key_env;  // NAME of the environment variable holding the key; "" = no key
  double connect_timeout_s = 10;
  double read_timeout_s = 60;  // the whole response of one request
};

// One part of a message: text, or an image given as PNG bytes.
struct ChatPart {
  std::string text;
  std::string image_png;  // non-empty = an image part (text ignored)
  static ChatPart of_text(std::string t);
  static ChatPart of_png(std::string png);
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::vector<ChatPart> parts;
  // A message of one text part.
  static ChatMessage of_text(std::string role, std::string text);
};

// Standard base64 (RFC 4648, with '=' padding).
std::string base64_encode(const std::string& bytes);

class ChatClient {
 public:
  // Checks the URL (parse_http_url: an https:// URL is refused with a one-line message)
  // and reads the key from the environment variable named api_key_env. Throws Error naming
  // the endpoint or the variable (set but empty counts as unset).
  explicit ChatClient(ChatEndpoint endpoint);

  const ChatEndpoint& endpoint() const { return endpoint_; }
  // The full URL requests go to ({base_url}/chat/completions).
  const std::string& url() const { return url_.text; }

  // The JSON request body for `messages`: a message of text parts only has a string
  // content; one with an image has an array of {"type":"text"} and
  // {"type":"image_url","image_url":{"url":"data:image/png;base64,..."}} parts in order.
  nlohmann::json request_body(const std::vector<ChatMessage>& messages) const;

  // Sends the messages and returns the reply's text. Throws Cancelled when `cancelled`
  // turns true while waiting (checked every few tens of milliseconds), and Error naming the
  // URL for: a transport failure (connection refused, timeout: http_post), an HTTP status
  // other than 2xx (with the body's error.message, or the start of the body), a body that
  // is not JSON, and a JSON body without choices[0].message.content (naming the missing
  // field).
  std::string complete(const std::vector<ChatMessage>& messages, const std::function<bool()>& cancelled = {}) const;

 private:
  ChatEndpoint endpoint_;
  HttpUrl url_;
  std::string api_key_;
};

}  // namespace sightline

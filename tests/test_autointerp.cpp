// core/autointerp: the HTTP/1.1 client, the chat client, prompts A and B and
// interpret_feature against a stub OpenAI-compatible server on 127.0.0.1.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "core/autointerp/autointerp.h"
#include "core/autointerp/chat_client.h"
#include "core/autointerp/http_client.h"
#include "core/common/error.h"
#include "tests/stub_chat_server.h"
#include "tests/test_util.h"

namespace sightline {
namespace {

using test::error_of;
using test::StubChatServer;
using test::StubReply;
using test::StubRequest;
using test::chat_completion_body;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A sample whose pieces are the words of `text` (leading spaces kept); `hot` gets `act`,
// "of" a fifth of it, the rest 0.
InterpExample example(const std::string& id, const std::string& dataset, const std::string& text,
                      const std::string& hot = "", float act = 0) {
  InterpExample e;
  e.sample_id = id;
  e.dataset = dataset;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    e.tokens.push_back(e.tokens.empty() ? word : " " + word);
    e.activations.push_back(word == hot ? act : word == "of" ? act / 5 : 0.0f);
  }
  return e;
}

// The feature of the end-to-end tests: prompt A gets t1, t2 (and t1 again, dropped);
// positives p1, p2 hold "left", p3 does not; negative n1 holds "left", n2 and n3 do not.
FeatureExamples left_feature() {
  FeatureExamples f;
  f.top = {example("t1", "vqa", "Is the cat left of the dog?", "left", 4.0f),
           example("t2", "vsr", "The cup is left of the plate.", "left", 2.0f),
           example("t1", "vqa", "Is the cat left of the dog?", "left", 4.0f)};
  f.heldout_positives = {example("p1", "vqa", "Is the ball left of the box?"),
                         example("p2", "vsr", "The car is left of the tree."),
                         example("p3", "vqa", "Is the cup near the plate?")};
  f.random_negatives = {example("n1", "vqa", "What color is the left shoe?"),
                        example("n2", "vqa", "How many dogs are there?"), example("n3", "vqa", "Is it sunny?")};
  return f;
}

InterpOptions left_options() {
  InterpOptions o;
  o.n_examples = 5;
  o.n_holdout = 3;
  o.rounds = 2;
  o.seed = 7;
  return o;
}

// The user message of a request (its string content, or its text parts joined).
std::string user_text(const StubRequest& req) {
  const auto body = nlohmann::json::parse(req.body);
  const auto& content = body.at("messages").at(1).at("content");
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  for (const auto& part : content)
    if (part.at("type") == "text") out += part.at("text").get<std::string>();
  return out;
}

std::string system_text(const StubRequest& req) {
  return nlohmann::json::parse(req.body).at("messages").at(0).at("content").get<std::string>();
}

// The sample texts of a prompt: the line after each "Sample k ...:" header.
std::vector<std::string> sample_texts(const std::string& prompt) {
  std::vector<std::string> out;
  std::istringstream in(prompt);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Sample ", 0) == 0 && !line.empty() && line.back() == ':') {
      std::string text;
      std::getline(in, text);
      out.push_back(text);
    }
  }
  return out;
}

bool is_prompt_a(const StubRequest& req) { return system_text(req).find("analyzing individual neurons") != std::string::npos; }

// A model that describes "left" and says 1 for every sample holding "left".
StubReply left_model(const StubRequest& req) {
  StubReply r;
  if (is_prompt_a(req)) {
    r.body = chat_completion_body("```json\n{\"description\": \"this neuron activates for left-of relations.\"}\n```");
    r.chunked = true;
    return r;
  }
  nlohmann::json cls = nlohmann::json::array();
  for (const auto& t : sample_texts(user_text(req))) cls.push_back(t.find("left") != std::string::npos ? 1 : 0);
  r.body = chat_completion_body(nlohmann::json{{"classifications", cls}}.dump());
  return r;
}

ChatEndpoint endpoint_of(const StubChatServer& server, double read_timeout_s = 5) {
  ChatEndpoint e;
  e.base_url = server.base_url();
  e.model = "stub-model";
  e.api_key_env = "";
  e.connect_timeout_s = 2;
  e.read_timeout_s = read_timeout_s;
  return e;
}

// ---------------------------------------------------------------------------------------
// pieces
// ---------------------------------------------------------------------------------------

TEST(AutointerpBase64, Rfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\x89PNG\xff\x00", 6)), "iVBOR/8A");
}

TEST(AutointerpHttp, ParsesHttpUrlsAndRefusesHttps) {
  const HttpUrl a = parse_http_url("http://127.0.0.1:8000/v1/chat/completions");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 8000);
  EXPECT_EQ(a.path, "/v1/chat/completions");
  const HttpUrl b = parse_http_url("http://localhost");
  EXPECT_EQ(b.port, 80);
  EXPECT_EQ(b.path, "/");
  const HttpUrl c = parse_http_url("http://[::1]:9000/x");
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, 9000);

  const std::string https = error_of([] { parse_http_url("https://api.openai.com/v1"); });
  EXPECT_NE(https.find("TLS is not built in"), std::string::npos) << https;
  EXPECT_NE(https.find("http proxy"), std::string::npos) << https;
  EXPECT_EQ(https.find('\n'), std::string::npos) << "one line: " << https;
  EXPECT_NE(error_of([] { parse_http_url("ftp://x/"); }).find("not an http:// URL"), std::string::npos);
  EXPECT_NE(error_of([] { parse_http_url("http://host:99999/"); }).find("port"), std::string::npos);
  EXPECT_NE(error_of([] { parse_http_url("http://host:8a/"); }).find("bad port"), std::string::npos);
  EXPECT_NE(error_of([] { parse_http_url("http:///v1"); }).find("no host"), std::string::npos);
}

TEST(AutointerpHttp, DecodesChunkedBodies) {
  std::string out;
  const std::string raw = "HEAD5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: 1\r\n\r\n";
  EXPECT_TRUE(decode_chunked(raw, 4, out, "t"));
  EXPECT_EQ(out, "hello world");
  // Every strict prefix is incomplete, never an error.
  for (size_t n = 4; n < raw.size(); ++n) {
    std::string partial;
    EXPECT_FALSE(decode_chunked(raw.substr(0, n), 4, partial, "t")) << n;
  }
  EXPECT_NE(error_of([] {
              std::string o;
              decode_chunked("zz\r\nabc\r\n", 0, o, "t");
            }).find("chunk size"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              std::string o;
              decode_chunked("3\r\nabcXY0\r\n\r\n", 0, o, "t");
            }).find("not followed by CRLF"),
            std::string::npos);
}

TEST(AutointerpHttp, ReadsContentLengthChunkedAndCloseDelimitedBodies) {
  std::atomic<int> mode{0};
  StubChatServer server([&](const StubRequest&) {
    StubReply r;
    if (mode == 0) r.body = "{\"a\":1}";
    if (mode == 1) {
      r.body = std::string(100, 'x');
      r.chunked = true;
    }
    if (mode == 2) r.raw = "HTTP/1.0 200 OK\r\nX-Test: yes\r\n\r\nuntil close";
    if (mode == 3) r.raw = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort";
    if (mode == 4) r.raw = "garbage\r\n\r\n";
    return r;
  });
  const HttpUrl url = parse_http_url(server.base_url() + "/x");
  HttpOptions o;
  o.read_timeout_s = 2;
  HttpResponse r = http_post(url, {{"Content-Type", "application/json"}}, "{}", o);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"a\":1}");
  EXPECT_EQ(r.header("content-type"), "application/json");
  mode = 1;
  EXPECT_EQ(http_post(url, {}, "{}", o).body, std::string(100, 'x'));
  mode = 2;
  r = http_post(url, {}, "{}", o);
  EXPECT_EQ(r.body, "until close");
  EXPECT_EQ(r.header("X-TEST"), "yes");
  mode = 3;
  EXPECT_NE(error_of([&] { http_post(url, {}, "{}", o); }).find("after 5 of 50 body bytes"), std::string::npos);
  mode = 4;
  EXPECT_NE(error_of([&] { http_post(url, {}, "{}", o); }).find("malformed HTTP status line"), std::string::npos);
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 5u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].path, "/v1/x");
  EXPECT_EQ(reqs[0].body, "{}");
  EXPECT_EQ(reqs[0].headers.at("host"), "127.0.0.1:" + std::to_string(server.port()));
}

TEST(AutointerpPrompts, MarksTokensScaledToTheStrongestActivation) {
  const InterpExample e = example("s", "vqa", "Is the cat left of the dog?", "left", 4.0f);
  EXPECT_EQ(mark_activations(e, 4.0f), "Is the cat <<left>> <<of>> the dog?\nactivations: left 10, of 2");
  // Against a larger maximum "of" (0.8 / 8 -> 1) still shows, at 1.
  EXPECT_EQ(mark_activations(e, 8.0f), "Is the cat <<left>> <<of>> the dog?\nactivations: left 5, of 1");
  EXPECT_EQ(mark_activations(e, 40.0f), "Is the cat <<left>> of the dog?\nactivations: left 1");
  EXPECT_EQ(mark_activations(example("z", "vqa", "no fire here"), 1.0f), "no fire here\nactivations: none");
  InterpExample bad = e;
  bad.activations.pop_back();
  EXPECT_NE(error_of([&] { mark_activations(bad, 1.0f); }).find("sample 's': 7 tokens but 6 activations"),
            std::string::npos);
}

TEST(AutointerpPrompts, ParsesRepliesAndNamesWhatIsMissing) {
  EXPECT_EQ(parse_description_reply("Sure!\n```json\n{\"description\": \" this neuron activates for x. \"}\n```"),
            "this neuron activates for x.");
  EXPECT_NE(error_of([] { parse_description_reply("{\"desc\": \"x\"}"); }).find("no field 'description'"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_description_reply("it fires on left"); }).find("holds no JSON object"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_description_reply("{\"description\": 3}"); }).find("not a string"), std::string::npos);
  EXPECT_EQ(parse_classification_reply("{\"classifications\": [1, 0, true, false]}", 4),
            (std::vector<int>{1, 0, 1, 0}));
  EXPECT_NE(error_of([] { parse_classification_reply("{\"classifications\": [1, 0]}", 3); })
                .find("has 2 entries for 3 samples"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_classification_reply("{\"classifications\": [1, 2]}", 2); }).find("entry 1 is 2"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_classification_reply("{\"labels\": [1]}", 1); }).find("no field 'classifications'"),
            std::string::npos);
}

TEST(AutointerpSelection, DeterministicForASeedAndDisjoint) {
  FeatureExamples f;
  for (int i = 0; i < 8; ++i) f.top.push_back(example("t" + std::to_string(i), "vqa", "left x", "left", 1));
  for (int i = 0; i < 20; ++i) f.heldout_positives.push_back(example("p" + std::to_string(i), "vqa", "a b"));
  for (int i = 0; i < 20; ++i) f.random_negatives.push_back(example("n" + std::to_string(i), "vqa", "c d"));
  f.random_negatives.push_back(example("t0", "vqa", "left x"));  // a top sample: never a negative
  InterpOptions o;
  o.n_examples = 3;
  o.n_holdout = 4;
  o.seed = 11;
  auto ids = [](const InterpSelection& s) {
    std::vector<std::string> v;
    for (const auto& e : s.validation) v.push_back(e.sample_id);
    return v;
  };
  const InterpSelection a = select_interp_examples(f, o);
  const InterpSelection b = select_interp_examples(f, o);
  ASSERT_EQ(a.description.size(), 3u);
  EXPECT_EQ(a.description[0].sample_id, "t0");
  EXPECT_EQ(a.description[2].sample_id, "t2");
  EXPECT_EQ(ids(a), ids(b));
  ASSERT_EQ(a.validation.size(), 8u);
  std::set<std::string> seen;
  int positives = 0;
  for (size_t i = 0; i < a.validation.size(); ++i) {
    const std::string& id = a.validation[i].sample_id;
    EXPECT_TRUE(seen.insert(id).second) << id;
    EXPECT_EQ(a.positive[i], id[0] == 'p') << id;
    EXPECT_NE(id[0], 't') << id;
    positives += a.positive[i] ? 1 : 0;
  }
  EXPECT_EQ(positives, 4);
  o.seed = 12;
  EXPECT_NE(ids(select_interp_examples(f, o)), ids(a));
}

// ---------------------------------------------------------------------------------------
// interpret_feature against the stub server
// ---------------------------------------------------------------------------------------

TEST(AutointerpFeature, DescriptionAndF1FromTheStubsAnswers) {
  StubChatServer server(left_model);
  ::setenv("SIGHTLINE_TEST_AUTOINTERP_KEY", "sk-test-123", 1);
  ChatEndpoint ep = endpoint_of(server);
  ep.api_key_env = "SIGHTLINE_TEST_AUTOINTERP_KEY";
  const ChatClient client(ep);
  const InterpResult r = interpret_feature(client, left_feature(), left_options());
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.description, "this neuron activates for left-of relations.");
  // p1, p2 -> 1 (TP), p3 -> 0 (FN), n1 -> 1 (FP), n2, n3 -> 0 (TN).
  EXPECT_EQ(r.true_positives, 2);
  EXPECT_EQ(r.false_negatives, 1);
  EXPECT_EQ(r.false_positives, 1);
  EXPECT_EQ(r.true_negatives, 2);
  EXPECT_DOUBLE_EQ(r.precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.f1, 2.0 / 3.0);
  ASSERT_EQ(r.examples.size(), 2u);  // t1's duplicate dropped
  EXPECT_EQ(r.examples[0].sample_id, "t1");
  EXPECT_EQ(r.examples[1].sample_id, "t2");
  ASSERT_EQ(r.validation.size(), 6u);
  for (const auto& v : r.validation) {
    EXPECT_EQ(v.positive, v.sample_id[0] == 'p') << v.sample_id;
    const bool left = v.sample_id == "p1" || v.sample_id == "p2" || v.sample_id == "n1";
    EXPECT_EQ(v.predicted, left ? 1 : 0) << v.sample_id;
  }

  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);  // prompt A + two validation rounds
  for (const auto& q : reqs) {
    EXPECT_EQ(q.path, "/v1/chat/completions");
    EXPECT_EQ(q.headers.at("authorization"), "Bearer sk-test-123");
    EXPECT_EQ(nlohmann::json::parse(q.body).at("model"), "stub-model");
  }
  // Prompt A holds both examples with their marks, and the paper's task and return format.
  ASSERT_TRUE(is_prompt_a(reqs[0]));
  const std::string a = user_text(reqs[0]);
  EXPECT_NE(a.find("Sample 1 (vqa):\nIs the cat <<left>> <<of>> the dog?\nactivations: left 10, of 2"),
            std::string::npos)
      << a;
  EXPECT_NE(a.find("Sample 2 (vsr):\nThe cup is <<left>> <<of>> the plate.\nactivations: left 5, of 1"),
            std::string::npos)
      << a;
  EXPECT_NE(a.find("this neuron activates for ..."), std::string::npos);
  EXPECT_NE(a.find("\"description\""), std::string::npos);
  EXPECT_EQ(sample_texts(a).size(), 2u);
  // Prompt B: the description, unmarked samples, 3 per round, all six shown once.
  std::multiset<std::string> shown;
  for (size_t k = 1; k < 3; ++k) {
    const std::string b = user_text(reqs[k]);
    EXPECT_NE(b.find("Description: \"this neuron activates for left-of relations.\""), std::string::npos) << b;
    EXPECT_EQ(b.find("<<"), std::string::npos) << b;
    EXPECT_NE(b.find("exactly 3 entries"), std::string::npos) << b;
    for (const auto& t : sample_texts(b)) shown.insert(t);
  }
  EXPECT_EQ(shown.size(), 6u);
  EXPECT_EQ(shown.count("Is the cup near the plate?"), 1u);
  EXPECT_EQ(shown.count("Is it sunny?"), 1u);

  // The stored JSON carries the same.
  const auto j = to_json(r);
  EXPECT_EQ(j["description"], r.description);
  EXPECT_DOUBLE_EQ(j["f1"].get<double>(), 2.0 / 3.0);
  EXPECT_EQ(j["examples"][0]["marked"], "Is the cat <<left>> <<of>> the dog?\nactivations: left 10, of 2");
  EXPECT_EQ(j["validation"].size(), 6u);
  EXPECT_EQ(j["error"], "");
}

TEST(AutointerpFeature, SameSeedSameRequests) {
  StubChatServer s1(left_model), s2(left_model);
  const InterpResult a = interpret_feature(ChatClient(endpoint_of(s1)), left_feature(), left_options());
  const InterpResult b = interpret_feature(ChatClient(endpoint_of(s2)), left_feature(), left_options());
  ASSERT_TRUE(a.ok() && b.ok());
  const auto ra = s1.requests(), rb = s2.requests();
  ASSERT_EQ(ra.size(), rb.size());
  for (size_t i = 0; i < ra.size(); ++i) EXPECT_EQ(ra[i].body, rb[i].body);
}

TEST(AutointerpFeature, OverlayAddsImageDataUrls) {
  StubChatServer server(left_model);
  FeatureExamples f = left_feature();
  f.top[0].image_png = std::string("\x89PNG\r\n\x1a\nONE", 11);
  f.top[1].image_png = std::string("\x89PNG\r\n\x1a\nTWO", 11);
  InterpOptions o = left_options();
  o.variant = InterpVariant::kOverlay;
  const InterpResult r = interpret_feature(ChatClient(endpoint_of(server)), f, o);
  ASSERT_TRUE(r.ok()) << r.error;
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  const auto content = nlohmann::json::parse(reqs[0].body)["messages"][1]["content"];
  ASSERT_TRUE(content.is_array());
  std::vector<std::string> urls;
  for (const auto& part : content)
    if (part["type"] == "image_url") urls.push_back(part["image_url"]["url"]);
  ASSERT_EQ(urls.size(), 2u);
  EXPECT_EQ(urls[0], "data:image/png;base64," + base64_encode(f.top[0].image_png));
  EXPECT_EQ(urls[1], "data:image/png;base64," + base64_encode(f.top[1].image_png));
  // Each image follows its sample's text.
  size_t text_of_1 = 0, image_1 = 0;
  for (size_t i = 0; i < content.size(); ++i) {
    if (content[i]["type"] == "text" && content[i]["text"].get<std::string>().rfind("Sample 1", 0) == 0) text_of_1 = i;
    if (content[i]["type"] == "image_url" && image_1 == 0) image_1 = i;
  }
  EXPECT_EQ(image_1, text_of_1 + 1);
  // Validation samples have no images: no image in prompt B (it would give the label away).
  EXPECT_TRUE(nlohmann::json::parse(reqs[1].body)["messages"][1]["content"].is_string());
  // A RAW run of the same examples sends no image.
  StubChatServer raw_server(left_model);
  ASSERT_TRUE(interpret_feature(ChatClient(endpoint_of(raw_server)), f, left_options()).ok());
  EXPECT_EQ(raw_server.requests()[0].body.find("image_url"), std::string::npos);
  // validation_messages attaches images only when every sample has one.
  std::vector<InterpExample> both = {f.top[0], f.top[1]};
  const auto with = ChatClient(endpoint_of(server)).request_body(validation_messages("d", both, InterpVariant::kOverlay));
  EXPECT_NE(with.dump().find(base64_encode(f.top[1].image_png)), std::string::npos);
  both[1].image_png.clear();
  const auto without = ChatClient(endpoint_of(server)).request_body(validation_messages("d", both, InterpVariant::kOverlay));
  EXPECT_EQ(without.dump().find("image_url"), std::string::npos);
}

TEST(AutointerpFeature, SlowEndpointTimesOutIntoAnError) {
  StubChatServer server([](const StubRequest&) {
    StubReply r;
    r.hang = true;
    return r;
  });
  const auto t0 = Clock::now();
  const InterpResult r = interpret_feature(ChatClient(endpoint_of(server, 0.2)), left_feature(), left_options());
  const double took = seconds_since(t0);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("prompt A: "), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("timed out after 0.2 s waiting for the response"), std::string::npos) << r.error;
  EXPECT_TRUE(r.description.empty());
  EXPECT_TRUE(std::isnan(r.f1));
  EXPECT_GE(took, 0.19);
  EXPECT_LT(took, 1.5);
}

TEST(AutointerpFeature, Http500IsAnErrorWithTheServersMessage) {
  StubChatServer server([](const StubRequest&) {
    StubReply r;
    r.status = 500;
    r.body = R"({"error": {"message": "model overloaded", "type": "server_error"}})";
    return r;
  });
  const InterpResult r = interpret_feature(ChatClient(endpoint_of(server)), left_feature(), left_options());
  EXPECT_NE(r.error.find("HTTP 500"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("model overloaded"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find(server.base_url() + "/chat/completions"), std::string::npos) << r.error;
  EXPECT_EQ(server.requests().size(), 1u);  // no validation after a failed description
}

TEST(AutointerpFeature, MalformedResponsesNameTheCause) {
  std::mutex mutex;  // the body is set here and read on the server's thread
  std::string body;
  StubChatServer server([&](const StubRequest&) {
    std::lock_guard<std::mutex> lock(mutex);
    StubReply r;
    r.body = body;
    return r;
  });
  const ChatClient client(endpoint_of(server));
  auto error_for = [&](const std::string& b) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      body = b;
    }
    return interpret_feature(client, left_feature(), left_options()).error;
  };
  EXPECT_NE(error_for("<html>oops</html>").find("the response is not JSON: '<html>oops</html>'"), std::string::npos);
  EXPECT_NE(error_for(R"({"id": "x"})").find("no field 'choices'"), std::string::npos);
  EXPECT_NE(error_for(R"({"choices": [{"index": 0}]})").find("no field 'choices[0].message'"), std::string::npos);
  EXPECT_NE(error_for(R"({"choices": [{"message": {"role": "assistant"}}]})").find("no field 'choices[0].message.content'"),
            std::string::npos);
  EXPECT_NE(error_for(chat_completion_body("it is about left")).find("prompt A: reply to prompt A holds no JSON object"),
            std::string::npos);
}

TEST(AutointerpFeature, BadValidationReplyKeepsTheDescription) {
  StubChatServer server([](const StubRequest& req) {
    StubReply r;
    r.body = is_prompt_a(req) ? chat_completion_body(R"({"description": "this neuron activates for left."})")
                              : chat_completion_body(R"({"classifications": [1]})");
    return r;
  });
  const InterpResult r = interpret_feature(ChatClient(endpoint_of(server)), left_feature(), left_options());
  EXPECT_EQ(r.description, "this neuron activates for left.");
  EXPECT_NE(r.error.find("prompt B round 1: reply to prompt B: field 'classifications' has 1 entries for 3 samples"),
            std::string::npos)
      << r.error;
  EXPECT_TRUE(std::isnan(r.f1));
  EXPECT_TRUE(to_json(r)["f1"].is_null());
}

TEST(AutointerpFeature, NoHeldOutPositivesIsAnError) {
  StubChatServer server(left_model);
  FeatureExamples f = left_feature();
  f.heldout_positives.clear();
  const InterpResult r = interpret_feature(ChatClient(endpoint_of(server)), f, left_options());
  EXPECT_EQ(r.description, "this neuron activates for left-of relations.");
  EXPECT_NE(r.error.find("no held-out positives"), std::string::npos) << r.error;
}

TEST(AutointerpFeature, ConnectionRefusedIsAnError) {
  // A port that was just free: bind, read it back, close.
  int port = 0;
  {
    StubChatServer probe([](const StubRequest&) { return StubReply{}; });
    port = probe.port();
  }
  ChatEndpoint ep;
  ep.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  ep.model = "m";
  ep.connect_timeout_s = 0.5;
  ep.read_timeout_s = 0.5;
  const auto t0 = Clock::now();
  const InterpResult r = interpret_feature(ChatClient(ep), left_feature(), left_options());
  EXPECT_NE(r.error.find("connection refused"), std::string::npos) << r.error;
  EXPECT_LT(seconds_since(t0), 1.0);
}

TEST(AutointerpFeature, HttpsAndMissingKeyAreClearErrors) {
  ChatEndpoint ep;
  ep.base_url = "https://api.openai.com/v1";
  ep.model = "gpt-4o-mini";
  const std::string https = error_of([&] { ChatClient c(ep); });
  EXPECT_NE(https.find("TLS is not built in"), std::string::npos) << https;
  ep.base_url = "http://127.0.0.1:1/v1";
  ep.api_key_env = "SIGHTLINE_TEST_AUTOINTERP_UNSET_KEY";
  ::unsetenv("SIGHTLINE_TEST_AUTOINTERP_UNSET_KEY");
  const std::string key = error_of([&] { ChatClient c(ep); });
  EXPECT_NE(key.find("'SIGHTLINE_TEST_AUTOINTERP_UNSET_KEY' (api_key_env) is not set"), std::string::npos) << key;
  ep.api_key_env = "";
  ep.model = "";
  EXPECT_NE(error_of([&] { ChatClient c(ep); }).find("no model name"), std::string::npos);
}

TEST(AutointerpFeature, CancelWhileWaitingReturnsPromptly) {
  StubChatServer server([](const StubRequest&) {
    StubReply r;
    r.hang = true;
    return r;
  });
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel.store(true);
  });
  const auto t0 = Clock::now();
  bool cancelled = false;
  try {
    interpret_feature(ChatClient(endpoint_of(server, 30)), left_feature(), left_options(),
                      [&] { return cancel.load(); });
  } catch (const Cancelled&) {
    cancelled = true;
  }
  const double took = seconds_since(t0);
  canceller.join();
  EXPECT_TRUE(cancelled);
  EXPECT_GE(took, 0.09);
  EXPECT_LT(took, 1.0);  // the read timeout is 30 s
}

}  // namespace
}  // namespace sightline

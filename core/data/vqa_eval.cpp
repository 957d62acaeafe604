#include "core/data/vqa_eval.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

namespace sightline {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

void replace_all(std::string& s, char from, const std::string& to) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    if (c == from) {
      out += to;
    } else {
      out.push_back(c);
    }
  }
  s.swap(out);
}

// re.search(r"(\d)(\,)(\d)", text)
bool has_digit_comma_digit(const std::string& text) {
  for (size_t i = 1; i + 1 < text.size(); ++i)
    if (text[i] == ',' && is_digit(text[i - 1]) && is_digit(text[i + 1])) return true;
  return false;
}

// The official table (vqaEval.py self.contractions), keys as written there.
const std::unordered_map<std::string, std::string>& contractions() {
  static const std::unordered_map<std::string, std::string> table = {
      {"aint", "ain't"}, {"arent", "aren't"}, {"cant", "can't"}, {"couldve", "could've"},
      {"couldnt", "couldn't"}, {"couldn'tve", "couldn't've"}, {"couldnt've", "couldn't've"},
      {"didnt", "didn't"}, {"doesnt", "doesn't"}, {"dont", "don't"}, {"hadnt", "hadn't"},
      {"hadnt've", "hadn't've"}, {"hadn'tve", "hadn't've"}, {"hasnt", "hasn't"}, {"havent", "haven't"},
      {"hed", "he'd"}, {"hed've", "he'd've"}, {"he'dve", "he'd've"}, {"hes", "he's"}, {"howd", "how'd"},
      {"howll", "how'll"}, {"hows", "how's"}, {"Id've", "I'd've"}, {"I'dve", "I'd've"}, {"Im", "I'm"},
      {"Ive", "I've"}, {"isnt", "isn't"}, {"itd", "it'd"}, {"itd've", "it'd've"}, {"it'dve", "it'd've"},
      {"itll", "it'll"}, {"let's", "let's"}, {"maam", "ma'am"}, {"mightnt", "mightn't"},
      {"mightnt've", "mightn't've"}, {"mightn'tve", "mightn't've"}, {"mightve", "might've"},
      {"mustnt", "mustn't"}, {"mustve", "must've"}, {"neednt", "needn't"}, {"notve", "not've"},
      {"oclock", "o'clock"}, {"oughtnt", "oughtn't"}, {"ow's'at", "'ow's'at"}, {"'ows'at", "'ow's'at"},
      {"'ow'sat", "'ow's'at"}, {"shant", "shan't"}, {"shed've", "she'd've"}, {"she'dve", "she'd've"},
      {"she's", "she's"}, {"shouldve", "should've"}, {"shouldnt", "shouldn't"},
      {"shouldnt've", "shouldn't've"}, {"shouldn'tve", "shouldn't've"}, {"somebody'd", "somebodyd"},
      {"somebodyd've", "somebody'd've"}, {"somebody'dve", "somebody'd've"}, {"somebodyll", "somebody'll"},
      {"somebodys", "somebody's"}, {"someoned", "someone'd"}, {"someoned've", "someone'd've"},
      {"someone'dve", "someone'd've"}, {"someonell", "someone'll"}, {"someones", "someone's"},
      {"somethingd", "something'd"}, {"somethingd've", "something'd've"},
      {"something'dve", "something'd've"}, {"somethingll", "something'll"}, {"thats", "that's"},
      {"thered", "there'd"}, {"thered've", "there'd've"}, {"there'dve", "there'd've"},
      {"therere", "there're"}, {"theres", "there's"}, {"theyd", "they'd"}, {"theyd've", "they'd've"},
      {"they'dve", "they'd've"}, {"theyll", "they'll"}, {"theyre", "they're"}, {"theyve", "they've"},
      {"twas", "'twas"}, {"wasnt", "wasn't"}, {"wed've", "we'd've"}, {"we'dve", "we'd've"},
      {"weve", "we've"}, {"werent", "weren't"}, {"whatll", "what'll"}, {"whatre", "what're"},
      {"whats", "what's"}, {"whatve", "what've"}, {"whens", "when's"}, {"whered", "where'd"},
      {"wheres", "where's"}, {"whereve", "where've"}, {"whod", "who'd"}, {"whod've", "who'd've"},
      {"who'dve", "who'd've"}, {"wholl", "who'll"}, {"whos", "who's"}, {"whove", "who've"},
      {"whyll", "why'll"}, {"whyre", "why're"}, {"whys", "why's"}, {"wont", "won't"},
      {"wouldve", "would've"}, {"wouldnt", "wouldn't"}, {"wouldnt've", "wouldn't've"},
      {"wouldn'tve", "wouldn't've"}, {"yall", "y'all"}, {"yall'll", "y'all'll"}, {"y'allll", "y'all'll"},
      {"yall'd've", "y'all'd've"}, {"y'alld've", "y'all'd've"}, {"y'all'dve", "y'all'd've"},
      {"youd", "you'd"}, {"youd've", "you'd've"}, {"you'dve", "you'd've"}, {"youll", "you'll"},
      {"youre", "you're"}, {"youve", "you've"}};
  return table;
}

const std::unordered_map<std::string, std::string>& number_words() {
  static const std::unordered_map<std::string, std::string> table = {
      {"none", "0"}, {"zero", "0"},  {"one", "1"},   {"two", "2"}, {"three", "3"}, {"four", "4"},
      {"five", "5"}, {"six", "6"},   {"seven", "7"}, {"eight", "8"}, {"nine", "9"}, {"ten", "10"}};
  return table;
}

std::string strip(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

}  // namespace

std::string vqa_process_punctuation(const std::string& text) {
  static const char kPunct[] = {';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+',
                                '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'};
  const bool digit_comma = has_digit_comma_digit(text);
  std::string out = text;
  for (const char p : kPunct) {
    const std::string after = std::string(1, p) + " ";
    const std::string before = std::string(" ") + p;
    // The condition reads the original text; the replacement edits the running output.
    const bool touches_space = text.find(after) != std::string::npos || text.find(before) != std::string::npos;
    replace_all(out, p, touches_space || digit_comma ? "" : " ");
  }
  // periodStrip "(?!<=\d)(\.)(?!\d)": the first group is a look-ahead that always holds at a
  // '.', so this deletes each '.' not followed by a digit, at most 32 times.
  std::string result;
  result.reserve(out.size());
  int removed = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const bool followed_by_digit = i + 1 < out.size() && is_digit(out[i + 1]);
    if (out[i] == '.' && !followed_by_digit && removed < 32) {
      ++removed;
      continue;
    }
    result.push_back(out[i]);
  }
  return result;
}

std::string vqa_process_digit_article(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  const auto flush = [&] {
    if (word.empty()) return;
    const auto number = number_words().find(word);
    if (number != number_words().end()) word = number->second;
    if (word != "a" && word != "an" && word != "the") words.push_back(word);
    word.clear();
  };
  for (const char c : text) {
    if (is_space(c)) {
      flush();
    } else {
      word.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
  }
  flush();
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    const auto expanded = contractions().find(words[i]);
    if (i) out.push_back(' ');
    out += expanded == contractions().end() ? words[i] : expanded->second;
  }
  return out;
}

std::string vqa_normalize_answer(const std::string& answer) {
  std::string s = answer;
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\t', ' ');
  return vqa_process_digit_article(vqa_process_punctuation(strip(s)));
}

double vqa_accuracy(const std::string& prediction, const std::vector<std::string>& ground_truth,
                    bool normalize_ground_truth) {
  if (ground_truth.empty()) return 0.0;
  const std::string predicted = vqa_normalize_answer(prediction);
  std::vector<std::string> gts;
  gts.reserve(ground_truth.size());
  for (const std::string& g : ground_truth) {
    std::string s = g;
    std::replace(s.begin(), s.end(), '\n', ' ');
    std::replace(s.begin(), s.end(), '\t', ' ');
    gts.push_back(strip(s));
  }
  const bool all_same = std::all_of(gts.begin(), gts.end(), [&](const std::string& g) { return g == gts[0]; });
  for (std::string& g : gts) {
    if (normalize_ground_truth) {
      g = vqa_process_digit_article(vqa_process_punctuation(g));
    } else if (!all_same) {
      g = vqa_process_punctuation(g);
    }
  }
  // Each ground-truth answer is left out in turn; the rest vote for the prediction.
  const int64_t matches = std::count(gts.begin(), gts.end(), predicted);
  double total = 0.0;
  for (const std::string& g : gts) {
    const int64_t others = matches - (g == predicted ? 1 : 0);
    total += std::min(1.0, static_cast<double>(others) / 3.0);
  }
  return total / static_cast<double>(gts.size());
}

}  // namespace sightline

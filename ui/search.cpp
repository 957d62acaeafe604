#include "ui/search.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

namespace sightline::ui {

namespace {

std::string search_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string search_trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

// Lower case, runs of spaces as one: how relation names are compared.
std::string search_normalise(const std::string& s) {
  std::string out;
  for (char c : search_trim(s)) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

bool search_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '\'' || (static_cast<unsigned char>(c) >= 0x80);
}

// Lower-case words, in order (repeats kept).
std::vector<std::string> search_split_words(const std::string& text) {
  std::vector<std::string> words;
  std::string w;
  for (char c : text) {
    if (search_word_char(c)) {
      w.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!w.empty()) {
      words.push_back(std::move(w));
      w.clear();
    }
  }
  if (!w.empty()) words.push_back(std::move(w));
  return words;
}

bool search_digits(const std::string& s, int* out) {
  if (s.empty() || s.size() > 9) return false;  // 9 digits fit an int
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  *out = std::stoi(s);
  return true;
}

SearchQuery search_invalid(std::string why) {
  SearchQuery q;
  q.kind = SearchKind::kInvalid;
  q.error = std::move(why);
  return q;
}

SearchQuery search_words_query(const std::string& text) {
  SearchQuery q;
  q.kind = SearchKind::kWords;
  std::set<std::string> seen;
  for (std::string& w : search_split_words(text))
    if (seen.insert(w).second) q.words.push_back(std::move(w));
  if (q.words.empty()) return search_invalid("nothing to search for: type words of a description, 12:345, L12 or rel:NAME");
  return q;
}

SearchQuery search_relation_query(const std::string& name, const std::vector<std::string>& relations) {
  const std::string wanted = search_normalise(name);
  if (wanted.empty()) return search_invalid("rel: needs a relation name, e.g. rel:left of");
  if (relations.empty()) return search_invalid("no relation data: run stage 3, skill features (topk)");
  std::vector<std::string> prefixed;
  for (const std::string& r : relations) {
    const std::string n = search_normalise(r);
    if (n == wanted) {
      SearchQuery q;
      q.kind = SearchKind::kRelation;
      q.relation = r;
      return q;
    }
    if (n.compare(0, wanted.size(), wanted) == 0) prefixed.push_back(r);
  }
  if (prefixed.size() == 1) {
    SearchQuery q;
    q.kind = SearchKind::kRelation;
    q.relation = prefixed.front();
    return q;
  }
  std::string known;
  const std::vector<std::string>& list = prefixed.empty() ? relations : prefixed;
  for (size_t i = 0; i < list.size() && i < 6; ++i) known += (i ? ", " : "") + list[i];
  if (list.size() > 6) known += ", ...";
  return search_invalid(prefixed.empty() ? "no relation '" + name + "' (known: " + known + ")"
                                         : "relation '" + name + "' is ambiguous: " + known);
}

}  // namespace

SearchQuery parse_search(const std::string& input, const std::vector<std::string>& relations) {
  const std::string text = search_trim(input);
  if (text.empty()) return {};
  const std::string low = search_lower(text);
  for (const char* prefix : {"rel:", "relation:"}) {
    const std::string p = prefix;
    if (low.compare(0, p.size(), p) == 0) return search_relation_query(text.substr(p.size()), relations);
  }
  if (low.compare(0, 5, "desc:") == 0) return search_words_query(text.substr(5));

  // Layer-and-feature forms: "12:345", "L12:345", "l12 : 345".
  const size_t colon = text.find(':');
  std::string head = search_trim(colon == std::string::npos ? text : text.substr(0, colon));
  const bool has_l = !head.empty() && (head[0] == 'L' || head[0] == 'l');
  int layer = -1;
  const bool head_is_layer = search_digits(has_l ? head.substr(1) : head, &layer);
  if (colon != std::string::npos && head_is_layer) {
    int feature = -1;
    if (!search_digits(search_trim(text.substr(colon + 1)), &feature))
      return search_invalid("'" + text + "': expected LAYER:INDEX, e.g. 12:345");
    SearchQuery q;
    q.kind = SearchKind::kFeature;
    q.layer = layer;
    q.feature = feature;
    return q;
  }
  if (colon == std::string::npos && head_is_layer) {
    SearchQuery q;
    q.kind = has_l ? SearchKind::kLayer : SearchKind::kIndex;
    (has_l ? q.layer : q.feature) = layer;
    return q;
  }
  const std::string normal = search_normalise(text);
  for (const std::string& r : relations)
    if (search_normalise(r) == normal) {
      SearchQuery q;
      q.kind = SearchKind::kRelation;
      q.relation = r;
      return q;
    }
  return search_words_query(text);
}

std::vector<std::string> relation_names(const RunResults& results) {
  std::set<std::string> names;
  for (const auto& entry : results.features)
    for (const auto& rel : entry.second.relations) names.insert(rel.first);
  return {names.begin(), names.end()};
}

double description_score(const std::string& description, const std::vector<std::string>& words) {
  if (words.empty()) return 0;
  const std::vector<std::string> desc = search_split_words(description);
  double score = 0;
  for (const std::string& w : words) {
    int best = 0;
    for (const std::string& d : desc) {
      if (d == w) {
        best = 3;
        break;
      }
      if (d.compare(0, w.size(), w) == 0)
        best = std::max(best, 2);
      else if (d.find(w) != std::string::npos)
        best = std::max(best, 1);
    }
    if (best == 0) return 0;
    score += best;
  }
  if (words.size() >= 2 && desc.size() >= words.size()) {
    for (size_t i = 0; i + words.size() <= desc.size(); ++i)
      if (std::equal(words.begin(), words.end(), desc.begin() + static_cast<std::ptrdiff_t>(i))) {
        score += 1;
        break;
      }
  }
  return score;
}

RowIndex::RowIndex(const FeatureTable& table) {
  keys_.reserve(table.size());
  for (size_t i = 0; i < table.size(); ++i)
    keys_.emplace_back((static_cast<uint64_t>(table.layer[i]) << 32) | static_cast<uint32_t>(table.feature[i]),
                       static_cast<uint32_t>(i));
  std::sort(keys_.begin(), keys_.end());
}

int64_t RowIndex::find(int layer, int feature) const {
  if (layer < 0 || feature < 0) return -1;
  const uint64_t key = (static_cast<uint64_t>(layer) << 32) | static_cast<uint32_t>(feature);
  const auto it = std::lower_bound(keys_.begin(), keys_.end(), std::make_pair(key, uint32_t{0}));
  return it != keys_.end() && it->first == key ? static_cast<int64_t>(it->second) : -1;
}

std::vector<SearchHit> run_search(const SearchQuery& query, const FeatureTable& table, const RowIndex& index,
                                  const RunResults* results) {
  std::vector<SearchHit> hits;
  switch (query.kind) {
    case SearchKind::kInvalid:
      return hits;
    case SearchKind::kAll:
    case SearchKind::kLayer:
    case SearchKind::kIndex:
      for (size_t i = 0; i < table.size(); ++i) {
        if (query.layer >= 0 && table.layer[i] != query.layer) continue;
        if (query.feature >= 0 && table.feature[i] != query.feature) continue;
        hits.push_back({static_cast<uint32_t>(i), 0});
      }
      return hits;
    case SearchKind::kFeature: {
      const int64_t row = index.find(query.layer, query.feature);
      if (row >= 0) hits.push_back({static_cast<uint32_t>(row), 0});
      return hits;
    }
    case SearchKind::kWords:
    case SearchKind::kRelation:
      break;
  }
  if (!results) return hits;
  std::vector<double> tie;  // kWords: the F1 (higher first); NaN sorts last
  for (const auto& [ref, detail] : results->features) {
    double score = 0;
    if (query.kind == SearchKind::kWords) {
      if (!detail.has_description) continue;
      score = description_score(detail.description.text, query.words);
      if (score <= 0) continue;
    } else {
      score = std::nan("");
      for (const auto& rel : detail.relations)
        if (rel.first == query.relation) score = rel.second;
      if (!std::isfinite(score)) continue;
    }
    const int64_t row = index.find(ref.layer, ref.feature);
    if (row < 0) continue;
    hits.push_back({static_cast<uint32_t>(row), score});
  }
  auto f1_of = [&](uint32_t row) {
    if (query.kind != SearchKind::kWords) return -1.0;
    const FeatureDetail* d = results->find(table.layer[row], table.feature[row]);
    const double f1 = d && d->has_description ? d->description.f1 : std::nan("");
    return std::isfinite(f1) ? f1 : -1.0;
  };
  std::stable_sort(hits.begin(), hits.end(), [&](const SearchHit& a, const SearchHit& b) {
    if (a.score != b.score) return a.score > b.score;
    const double fa = f1_of(a.row), fb = f1_of(b.row);
    if (fa != fb) return fa > fb;
    if (table.layer[a.row] != table.layer[b.row]) return table.layer[a.row] < table.layer[b.row];
    return table.feature[a.row] < table.feature[b.row];
  });
  return hits;
}

std::string describe_query(const SearchQuery& query) {
  switch (query.kind) {
    case SearchKind::kAll:
      return "all features";
    case SearchKind::kFeature:
      return "feature L" + std::to_string(query.layer) + " #" + std::to_string(query.feature);
    case SearchKind::kLayer:
      return "layer " + std::to_string(query.layer);
    case SearchKind::kIndex:
      return "feature #" + std::to_string(query.feature) + " of every layer";
    case SearchKind::kWords: {
      std::string s = "description has";
      for (size_t i = 0; i < query.words.size(); ++i) s += (i ? ", '" : " '") + query.words[i] + "'";
      return s;
    }
    case SearchKind::kRelation:
      return "highest VSR odds ratio for '" + query.relation + "'";
    case SearchKind::kInvalid:
      return query.error;
  }
  return "";
}

}  // namespace sightline::ui

#include "core/store/records.h"

#include <array>
#include <chrono>
#include <cmath>
#include <ctime>

#include "core/common/error.h"

namespace sightline {

namespace {
constexpr std::array<const char*, 6> kStatusNames = {"pending", "running", "done",
                                                     "failed",  "cancelled", "skipped"};

// Member pointers in the order of feature_column_names(); one table for get/set/metrics.
using Column = double FeatureRow::*;
constexpr std::array<Column, 10> kColumns = {
    &FeatureRow::visual_energy, &FeatureRow::decoder_cosine, &FeatureRow::adapted,
    &FeatureRow::p_base,        &FeatureRow::p_skill,        &FeatureRow::delta_p,
    &FeatureRow::odds_ratio,    &FeatureRow::lexical_persistent, &FeatureRow::spatial,
    &FeatureRow::vsr_or};

int column_index(const std::string& key) {
  const auto& names = feature_column_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == key) return static_cast<int>(i);
  return -1;
}
}  // namespace

const char* to_string(StageStatus status) { return kStatusNames[static_cast<size_t>(status)]; }

StageStatus parse_stage_status(const std::string& text, const std::string& what) {
  for (size_t i = 0; i < kStatusNames.size(); ++i)
    if (text == kStatusNames[i]) return static_cast<StageStatus>(i);
  fail("{}: unknown status '{}' (expected pending, running, done, failed, cancelled or skipped)",
       what, text);
}

bool is_terminal(StageStatus status) {
  return status == StageStatus::kDone || status == StageStatus::kFailed ||
         status == StageStatus::kCancelled || status == StageStatus::kSkipped;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_timestamp(int64_t ms) {
  if (ms == 0) return "";
  const int64_t seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms - seconds * 1000);
}

const std::vector<std::string>& feature_column_names() {
  static const std::vector<std::string> names = {
      "visual_energy", "decoder_cosine",     "adapted", "p_base", "p_skill",
      "delta_p",       "odds_ratio", "lexical_persistent", "spatial", "vsr_or"};
  return names;
}

bool is_feature_column(const std::string& key) { return column_index(key) >= 0; }

double FeatureRow::column(size_t i) const { return this->*kColumns.at(i); }
double& FeatureRow::column(size_t i) { return this->*kColumns.at(i); }

std::optional<double> FeatureRow::get(const std::string& key) const {
  const int i = column_index(key);
  if (i >= 0) {
    const double v = this->*kColumns[static_cast<size_t>(i)];
    if (std::isnan(v)) return std::nullopt;
    return v;
  }
  const auto it = extra.find(key);
  if (it == extra.end() || std::isnan(it->second)) return std::nullopt;
  return it->second;
}

void FeatureRow::set(const std::string& key, double value) {
  const int i = column_index(key);
  if (i >= 0)
    this->*kColumns[static_cast<size_t>(i)] = value;
  else
    extra[key] = value;
}

std::map<std::string, double> FeatureRow::metrics() const {
  std::map<std::string, double> out;
  const auto& names = feature_column_names();
  for (size_t i = 0; i < names.size(); ++i) {
    const double v = this->*kColumns[i];
    if (!std::isnan(v)) out[names[i]] = v;
  }
  for (const auto& [key, value] : extra)
    if (!std::isnan(value)) out[key] = value;
  return out;
}

}  // namespace sightline

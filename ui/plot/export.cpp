#include "ui/plot/export.h"

#include <cstdio>
#include <fstream>

#include "core/common/error.h"

namespace sightline::plot {

namespace {

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.9g", v);
  return buffer;
}

void finish(std::ofstream& out, const std::string& path) {
  out.flush();
  check(static_cast<bool>(out), "file '{}': could not write the CSV export", path);
}

}  // namespace

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

void write_series_csv(const std::string& path, const std::vector<SeriesData>& series) {
  std::ofstream out(path);
  check(static_cast<bool>(out), "file '{}': cannot open for writing", path);
  out << "series,x,y\n";
  for (const auto& s : series) {
    const std::string label = csv_field(s.label);
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      out << label << ',' << number(s.x[i]) << ',' << number(s.y[i]) << '\n';
  }
  finish(out, path);
}

void write_grid_csv(const std::string& path, const float* values, int rows, int cols) {
  std::ofstream out(path);
  check(static_cast<bool>(out), "file '{}': cannot open for writing", path);
  out << "row";
  for (int c = 0; c < cols; ++c) out << ",col" << c;
  out << '\n';
  for (int r = 0; r < rows; ++r) {
    out << r;
    for (int c = 0; c < cols; ++c) out << ',' << number(values[static_cast<size_t>(r) * cols + c]);
    out << '\n';
  }
  finish(out, path);
}

}  // namespace sightline::plot

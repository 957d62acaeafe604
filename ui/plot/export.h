// Plot data export as CSV (the plot's PNG export is a framebuffer read in ui/gl/capture).
// Pure logic.
#pragma once

#include <string>
#include <vector>

namespace sightline::plot {

// One plotted series, copied out of the caller's arrays when an export is requested.
struct SeriesData {
  std::string label;
  std::vector<double> x, y;
};

// Quotes a CSV field when it holds a comma, quote or newline (RFC 4180).
std::string csv_field(const std::string& text);

// Long format: header "series,x,y", then one row per point. Throws Error naming the file
// when it cannot be written.
void write_series_csv(const std::string& path, const std::vector<SeriesData>& series);

// A rows x cols matrix (row-major), header "row,col0,col1,...", one line per row.
void write_grid_csv(const std::string& path, const float* values, int rows, int cols);

}  // namespace sightline::plot

// Explorer settings persisted between runs as JSON: pane sizes, the last database,
// thresholds, the colormap. Pure logic (no ImGui), so tests cover the round trip.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace sightline::ui {

struct Settings {
  // Window and fixed layout (pixels).
  int window_width = 1600;
  int window_height = 1000;
  float left_width = 300;      // feature list
  float right_width = 340;     // feature page
  float bottom_height = 210;   // jobs + log
  float jobs_fraction = 0.45f; // share of the bottom row taken by the jobs pane
  // Data.
  std::string last_db;
  std::string last_world;
  // Views.
  std::string colormap = "viridis";  // a name from ui/plot/colormap.h
  double eps = 1e-3;                 // adapted-set thresholds (METHOD.md stage 2)
  double p_cos = 0.25;
  // Above this many points in view the scatter draws a density image instead of points
  // (llvmpipe draws ~3 M points/s; at 40k the benchmark's p99 frame stays near 16 ms).
  int density_threshold = 40000;
  float point_size = 3;
  std::string export_dir = ".";  // where plot PNG / CSV exports go
};

nlohmann::json settings_to_json(const Settings& s);
// Absent keys keep their defaults; a key of the wrong type or out of range throws Error
// "file '<where>': field '<key>' ...".
Settings settings_from_json(const nlohmann::json& j, const std::string& where);

// $XDG_CONFIG_HOME/sightline/gui.json, else $HOME/.config/sightline/gui.json, else "".
std::string default_settings_path();
// Defaults when the file does not exist; throws Error naming the file when it is unreadable
// or malformed.
Settings load_settings(const std::string& path);
// Creates the directory and writes the file atomically; throws Error naming the file.
void save_settings(const std::string& path, const Settings& s);

}  // namespace sightline::ui

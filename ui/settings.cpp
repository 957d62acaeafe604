#include "ui/settings.h"

#include <cstdlib>
#include <filesystem>

#include "core/common/error.h"
#include "core/io/json_util.h"
#include "ui/plot/colormap.h"

namespace fs = std::filesystem;

namespace sightline::ui {

nlohmann::json settings_to_json(const Settings& s) {
  return {{"window_width", s.window_width},
          {"window_height", s.window_height},
          {"left_width", s.left_width},
          {"right_width", s.right_width},
          {"bottom_height", s.bottom_height},
          {"jobs_fraction", s.jobs_fraction},
          {"last_db", s.last_db},
          {"last_world", s.last_world},
          {"colormap", s.colormap},
          {"eps", s.eps},
          {"p_cos", s.p_cos},
          {"density_threshold", s.density_threshold},
          {"point_size", s.point_size},
          {"export_dir", s.export_dir}};
}

Settings settings_from_json(const nlohmann::json& j, const std::string& where) {
  Settings s;
  s.window_width = json_get_or(j, "window_width", s.window_width, where);
  s.window_height = json_get_or(j, "window_height", s.window_height, where);
  s.left_width = json_get_or(j, "left_width", s.left_width, where);
  s.right_width = json_get_or(j, "right_width", s.right_width, where);
  s.bottom_height = json_get_or(j, "bottom_height", s.bottom_height, where);
  s.jobs_fraction = json_get_or(j, "jobs_fraction", s.jobs_fraction, where);
  s.last_db = json_get_or(j, "last_db", s.last_db, where);
  s.last_world = json_get_or(j, "last_world", s.last_world, where);
  s.colormap = json_get_or(j, "colormap", s.colormap, where);
  s.eps = json_get_or(j, "eps", s.eps, where);
  s.p_cos = json_get_or(j, "p_cos", s.p_cos, where);
  s.density_threshold = json_get_or(j, "density_threshold", s.density_threshold, where);
  s.point_size = json_get_or(j, "point_size", s.point_size, where);
  s.export_dir = json_get_or(j, "export_dir", s.export_dir, where);

  check(s.window_width >= 320 && s.window_width <= 16384, "file '{}': field 'window_width' = {} is outside 320..16384",
        where, s.window_width);
  check(s.window_height >= 240 && s.window_height <= 16384,
        "file '{}': field 'window_height' = {} is outside 240..16384", where, s.window_height);
  for (auto [key, v] : {std::pair{"left_width", s.left_width}, {"right_width", s.right_width},
                        {"bottom_height", s.bottom_height}})
    check(v >= 40 && v <= 8192, "file '{}': field '{}' = {} is outside 40..8192", where, key, v);
  check(s.jobs_fraction >= 0.1f && s.jobs_fraction <= 0.9f, "file '{}': field 'jobs_fraction' = {} is outside 0.1..0.9",
        where, s.jobs_fraction);
  check(plot::colormap_from_name(s.colormap).has_value(), "file '{}': field 'colormap' = '{}' is not a known colormap",
        where, s.colormap);
  check(s.eps >= 0, "file '{}': field 'eps' = {} is negative", where, s.eps);
  check(s.p_cos >= 0 && s.p_cos <= 1, "file '{}': field 'p_cos' = {} is outside [0, 1]", where, s.p_cos);
  check(s.density_threshold >= 0, "file '{}': field 'density_threshold' = {} is negative", where,
        s.density_threshold);
  check(s.point_size >= 1 && s.point_size <= 16, "file '{}': field 'point_size' = {} is outside 1..16", where,
        s.point_size);
  return s;
}

std::string default_settings_path() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg && *xdg) return (fs::path(xdg) / "sightline" / "gui.json").string();
  const char* home = std::getenv("HOME");
  if (home && *home) return (fs::path(home) / ".config" / "sightline" / "gui.json").string();
  return "";
}

Settings load_settings(const std::string& path) {
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec)) return Settings{};
  return settings_from_json(read_json_file(path), path);
}

void save_settings(const std::string& path, const Settings& s) {
  const fs::path dir = fs::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty()) fs::create_directories(dir, ec);
  check(!ec, "file '{}': cannot create the settings directory '{}': {}", path, dir.string(), ec.message());
  write_json_file(path, settings_to_json(s));
}

}  // namespace sightline::ui

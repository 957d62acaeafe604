#include "ui/plot/colormap.h"

#include <algorithm>
#include <cmath>
#include <mutex>

namespace sightline::plot {

namespace {

// Anchors: the ten-colour palettes of matplotlib's maps as published by R's viridisLite
// (viridis(10), magma(10), ...); Moreland's cool-warm end points (2009) with a light grey
// centre. Interpolating them in Oklab reproduces the smooth originals closely enough for
// reading a density; exact 256-entry copies are not needed.
struct Anchors {
  Colormap map;
  const char* name;
  bool diverging;
  std::vector<uint32_t> rgb;  // 0xRRGGBB, from t = 0 to t = 1
};

const std::vector<Anchors>& anchors() {
  static const std::vector<Anchors> all = {
      {Colormap::kViridis, "viridis", false,
       {0x440154, 0x482878, 0x3E4989, 0x31688E, 0x26828E, 0x1F9E89, 0x35B779, 0x6ECE58, 0xB5DE2B, 0xFDE725}},
      {Colormap::kMagma, "magma", false,
       {0x000004, 0x180F3D, 0x440F76, 0x721F81, 0x9E2F7F, 0xCD4071, 0xF1605D, 0xFD9668, 0xFECA8D, 0xFCFDBF}},
      {Colormap::kInferno, "inferno", false,
       {0x000004, 0x1B0C41, 0x4A0C6B, 0x781C6D, 0xA52C60, 0xCF4446, 0xED6925, 0xFB9B06, 0xF7D13D, 0xFCFFA4}},
      {Colormap::kPlasma, "plasma", false,
       {0x0D0887, 0x47039F, 0x7301A8, 0x9C179E, 0xBD3786, 0xD8576B, 0xED7953, 0xFB9F3A, 0xFDCA26, 0xF0F921}},
      {Colormap::kCividis, "cividis", false,
       {0x00204D, 0x00336F, 0x39486B, 0x575C6D, 0x707173, 0x8A8779, 0xA69D75, 0xC4B56C, 0xE4CF5B, 0xFFEA46}},
      {Colormap::kGray, "gray", false, {0x000000, 0xFFFFFF}},
      {Colormap::kCoolWarm, "coolwarm", true, {0x3B4CC0, 0xDDDDDD, 0xB40426}},
  };
  return all;
}

double srgb_to_linear(double c) { return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4); }
double linear_to_srgb(double c) {
  c = std::clamp(c, 0.0, 1.0);
  return c <= 0.0031308 ? 12.92 * c : 1.055 * std::pow(c, 1 / 2.4) - 0.055;
}

std::vector<Rgba8> build_table(const Anchors& a) {
  std::vector<std::array<double, 3>> lab;
  for (uint32_t c : a.rgb)
    lab.push_back(srgb_to_oklab({((c >> 16) & 255) / 255.0, ((c >> 8) & 255) / 255.0, (c & 255) / 255.0}));
  std::vector<Rgba8> table(kColormapSize);
  const int segments = static_cast<int>(lab.size()) - 1;
  for (int i = 0; i < kColormapSize; ++i) {
    const double t = static_cast<double>(i) / (kColormapSize - 1) * segments;
    const int k = std::min(static_cast<int>(t), segments - 1);
    const double f = t - k;
    std::array<double, 3> mixed{};
    for (int j = 0; j < 3; ++j) mixed[j] = lab[k][j] + (lab[k + 1][j] - lab[k][j]) * f;
    const auto rgb = oklab_to_srgb(mixed);
    for (int j = 0; j < 3; ++j) table[i][j] = static_cast<uint8_t>(std::lround(std::clamp(rgb[j], 0.0, 1.0) * 255));
    table[i][3] = 255;
  }
  return table;
}

}  // namespace

std::array<double, 3> srgb_to_oklab(const std::array<double, 3>& rgb) {
  // Matrices from Ottosson, "A perceptual color space for image processing" (2020).
  const double r = srgb_to_linear(rgb[0]), g = srgb_to_linear(rgb[1]), b = srgb_to_linear(rgb[2]);
  const double l = std::cbrt(0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b);
  const double m = std::cbrt(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b);
  const double s = std::cbrt(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b);
  return {0.2104542553 * l + 0.7936177850 * m - 0.0040720468 * s,
          1.9779984951 * l - 2.4285922050 * m + 0.4505937099 * s,
          0.0259040371 * l + 0.7827717662 * m - 0.8086757660 * s};
}

std::array<double, 3> oklab_to_srgb(const std::array<double, 3>& lab) {
  const double l_ = lab[0] + 0.3963377774 * lab[1] + 0.2158037573 * lab[2];
  const double m_ = lab[0] - 0.1055613458 * lab[1] - 0.0638541728 * lab[2];
  const double s_ = lab[0] - 0.0894841775 * lab[1] - 1.2914855480 * lab[2];
  const double l = l_ * l_ * l_, m = m_ * m_ * m_, s = s_ * s_ * s_;
  return {linear_to_srgb(4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s),
          linear_to_srgb(-1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s),
          linear_to_srgb(-0.0041960863 * l - 0.7034186147 * m + 1.7076147010 * s)};
}

const char* colormap_name(Colormap map) {
  for (const auto& a : anchors())
    if (a.map == map) return a.name;
  return "viridis";
}

std::optional<Colormap> colormap_from_name(const std::string& name) {
  for (const auto& a : anchors())
    if (name == a.name) return a.map;
  return std::nullopt;
}

bool colormap_is_diverging(Colormap map) {
  for (const auto& a : anchors())
    if (a.map == map) return a.diverging;
  return false;
}

const std::vector<Rgba8>& colormap_table(Colormap map) {
  static std::once_flag once;
  static std::vector<std::vector<Rgba8>> tables;
  std::call_once(once, [] {
    tables.resize(kColormapCount);
    for (const auto& a : anchors()) tables[static_cast<int>(a.map)] = build_table(a);
  });
  return tables[static_cast<int>(map)];
}

Rgba8 colormap_sample(Colormap map, double t) {
  if (!(t >= 0)) t = 0;  // NaN too
  const int i = static_cast<int>(std::lround(std::min(t, 1.0) * (kColormapSize - 1)));
  return colormap_table(map)[i];
}

}  // namespace sightline::plot

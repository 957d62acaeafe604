#include "ui/find_state.h"

#include <nlohmann/json.hpp>

namespace sightline::ui {

namespace {

nlohmann::json find_rect_json(const plot::PixelRect& r) { return {r.x0, r.y0, r.x1, r.y1}; }
nlohmann::json find_view_json(const plot::ViewRect& v) {
  return {{"x", {v.x.min, v.x.max}}, {"y", {v.y.min, v.y.max}}};
}

}  // namespace

const RowIndex& FindState::row_index(const FeatureTable& table, uint64_t serial) {
  if (!index_ || index_serial_ != serial) {
    index_ = std::make_unique<RowIndex>(table);
    index_serial_ = serial;
  }
  return *index_;
}

nlohmann::json find_report_json(const FindReport& report) {
  const Fig9Report& f = report.fig9;
  const FiringHistograms& h = f.histograms;
  nlohmann::json fig9 = {{"drawn", f.drawn},
                         {"area", find_rect_json(f.area)},
                         {"view", find_view_json(f.view)},
                         {"set", f.set},
                         {"layer", f.layer},
                         {"lo", h.lo},
                         {"width", h.width},
                         {"bins", h.bins},
                         {"base", h.base},
                         {"skill", h.skill},
                         {"features", h.features},
                         {"base_zero", h.base_zero},
                         {"skill_zero", h.skill_zero},
                         {"scatter_drawn", f.scatter_drawn},
                         {"scatter_area", find_rect_json(f.scatter_area)},
                         {"scatter_view", find_view_json(f.scatter_view)},
                         {"scatter_points", f.scatter_points}};
  nlohmann::json tokens = nlohmann::json::array();
  for (const TokenBox& t : report.page.tokens)
    tokens.push_back({{"text", t.text},
                      {"activation", t.activation},
                      {"intensity", t.intensity},
                      {"rect", find_rect_json(t.rect)},
                      {"visible", t.visible}});
  nlohmann::json page = {{"drawn", report.page.drawn},
                         {"position", report.page.position},
                         {"description", report.page.description},
                         {"starred", report.page.starred},
                         {"star", find_rect_json(report.page.star)},
                         {"tokens", tokens},
                         {"sample_sources", report.page.sample_sources},
                         {"positions_reason", report.page.positions_reason}};
  return {{"fig9", fig9}, {"page", page}};
}

}  // namespace sightline::ui

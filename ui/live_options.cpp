#include "ui/live_options.h"

#include "core/common/error.h"
#include "ui/live_views.h"
#include "ui/live_widgets.h"

namespace sightline::ui {

AblateToggles parse_ablate(const std::string& text) {
  AblateToggles out;
  size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const bool head = !item.empty() && item[0] == 'h';
    try {
      const auto [layer, index] = parse_select(head ? item.substr(1) : item);
      if (head)
        out.heads.push_back({layer, index});
      else
        out.features.push_back({layer, index});
    } catch (const Error&) {
      fail("--ablate '{}': item '{}' is not LAYER:FEATURE or hLAYER:HEAD (e.g. 3:40,h1:0)", text, item);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

nlohmann::json live_sidecar(const LiveReport& r) {
  nlohmann::json panels = nlohmann::json::array();
  for (const OverlayPanel& p : r.panels)
    panels.push_back({{"role", p.role},
                      {"layer", p.layer},
                      {"head", p.head},
                      {"grid", p.grid},
                      {"score", p.score},
                      {"area", {p.area.x0, p.area.y0, p.area.x1, p.area.y1}},
                      {"range", {p.range_min, p.range_max}},
                      {"values", p.values}});
  nlohmann::json groups = nlohmann::json::array();
  for (const LiveReport::Group& g : r.groups)
    groups.push_back({{"name", g.name}, {"n", g.n}, {"accuracy", g.accuracy}, {"accuracy_toggled", g.accuracy_intervened}});
  nlohmann::json j = {{"status", r.status},       {"overlays_drawn", r.overlays_drawn},
                      {"ablation_drawn", r.ablation_drawn}, {"statement", r.statement},
                      {"image", r.image},         {"question", r.question},
                      {"prompt", r.prompt},       {"rows", r.rows},
                      {"query_row", r.query_row}, {"alpha", r.alpha},
                      {"colormap", r.colormap},   {"toggles", r.toggles},
                      {"panels", panels},         {"groups", groups}};
  if (r.has_answer)
    j["answer"] = {{"text", r.answer},
                   {"p_yes", r.p_yes},
                   {"text_toggled", r.answer_intervened},
                   {"p_yes_toggled", r.p_yes_intervened}};
  else
    j["answer"] = nullptr;
  return j;
}

void start_live_views(AppState& state, const GuiOptions& options) {
  const bool live_view = options.view == "overlays" || options.view == "ablation";
  if (!live_view && options.image_file.empty() && options.question.empty() && options.head.empty() &&
      options.ablate.empty())
    return;
  LiveViews& live = live_views_of(state);
  live.show_statement(options.statement);
  if (!options.image_file.empty()) live.open_file(options.image_file);
  if (!options.question.empty()) live.set_question(options.question);
  if (options.alpha >= 0) live.style.alpha = static_cast<float>(options.alpha);
  if (!options.head.empty()) {
    const auto [layer, head] = parse_select(options.head);
    live.layer = layer;
    live.head = head;
    live.head_pinned = true;
  }
  if (options.query_token >= 0) {
    live.rows = AttentionRows::kToken;
    live.token = options.query_token;
  }
  const AblateToggles toggles = parse_ablate(options.ablate);
  for (const auto& [layer, feature] : toggles.features) live.set_feature({layer, feature}, true);
  for (const auto& [layer, head] : toggles.heads) live.set_head(layer, head, true);
  live.reeval_when_ready = !options.ablate.empty();
}

}  // namespace sightline::ui

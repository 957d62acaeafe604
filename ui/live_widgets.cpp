#include "ui/live_widgets.h"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "ui/gpu_resources.h"
#include "ui/views.h"

namespace sightline::ui {

namespace {

// Text boxes edit these buffers; each is re-synced from the model when the model's value
// changed behind it (a new statement's caption, a file opened by --image). The model's
// value changes only on Enter / Ask / Open, so typing is never overwritten.
struct LiveTextBox {
  char buffer[1024] = {};
  std::string synced;
  void sync(const std::string& value) {
    if (value == synced) return;
    std::snprintf(buffer, sizeof(buffer), "%s", value.c_str());
    synced = value;
  }
};

LiveTextBox& live_question_box() {
  static LiveTextBox box;
  return box;
}

LiveTextBox& live_file_box() {
  static LiveTextBox box;
  return box;
}

const ImVec4 kLiveErrorColor(1.0f, 0.45f, 0.4f, 1.0f);

uint64_t live_mix(uint64_t h, uint64_t v) {
  // splitmix64 finaliser over the running hash: distinct inputs give distinct keys in practice.
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

}  // namespace

LiveViews& live_views_of(AppState& state) {
  if (!state.live) {
    LiveSources sources;
    sources.world_dir = state.world_dir;
    std::error_code ec;
    if (sources.world_dir.empty() && !state.settings_path.empty() && !state.settings.last_world.empty() &&
        std::filesystem::is_directory(state.settings.last_world, ec))
      sources.world_dir = state.settings.last_world;
    sources.db_path = state.db_path;
    state.live = std::make_shared<LiveViews>(sources);
  }
  state.live->start(state.tasks);
  return *state.live;
}

bool draw_live_status(AppState& state, LiveViews& live, const char* what) {
  const DataStatus status = live.status();
  state.live_report.status = status.state == DataState::kReady ? "ready" : status.message;
  if (status.state == DataState::kReady) return true;
  if (status.state == DataState::kComputing) {
    // The loading task's current step and progress, from the jobs list.
    DataStatus shown = status;
    for (const TaskView& t : state.tasks.tasks()) {
      if (t.id != live.load_task() || t.state != TaskState::kRunning) continue;
      shown.message = "loading model... " + t.label;
      shown.progress = t.fraction;
    }
    return draw_data_status(shown, what);
  }
  // One line: the failure in the error colour, a missing source greyed.
  const std::string line = std::string(what) + ": " + status.message;
  if (status.state == DataState::kFailed)
    ImGui::TextColored(kLiveErrorColor, "%s", line.c_str());
  else
    ImGui::TextDisabled("%s", line.c_str());
  return false;
}

void draw_image_picker(LiveViews& live) {
  const auto session = live.session();
  if (!session) return;
  const std::vector<int64_t> shown = live.filtered_statements();
  const auto at = std::find(shown.begin(), shown.end(), live.statement());
  const int64_t pos = at == shown.end() ? -1 : static_cast<int64_t>(at - shown.begin());
  ImGui::AlignTextToFramePadding();
  ImGui::TextUnformatted("Image");
  ImGui::SameLine();
  ImGui::BeginDisabled(shown.empty());
  if (ImGui::ArrowButton("##prev_statement", ImGuiDir_Left) && !shown.empty())
    live.show_statement(shown[static_cast<size_t>(pos <= 0 ? shown.size() - 1 : static_cast<size_t>(pos - 1))]);
  ImGui::SameLine();
  if (ImGui::ArrowButton("##next_statement", ImGuiDir_Right) && !shown.empty())
    live.show_statement(shown[static_cast<size_t>(pos < 0 || pos + 1 >= static_cast<int64_t>(shown.size()) ? 0 : pos + 1)]);
  ImGui::EndDisabled();
  ImGui::SameLine();
  const auto image = live.image();
  if (image && image->statement < 0)
    ImGui::TextUnformatted("file");
  else if (pos >= 0)
    ImGui::Text("VSR %lld/%zu", static_cast<long long>(pos + 1), shown.size());
  else
    ImGui::Text("VSR #%lld", static_cast<long long>(live.statement()));
  ImGui::SameLine();
  ImGui::SetNextItemWidth(130);
  const std::string preview = live.relation_filter.empty() ? "all relations" : live.relation_filter;
  if (ImGui::BeginCombo("##relation", preview.c_str())) {
    if (ImGui::Selectable("all relations", live.relation_filter.empty())) live.relation_filter.clear();
    for (const std::string& r : session->relations()) {
      if (!ImGui::Selectable(r.c_str(), r == live.relation_filter)) continue;
      live.relation_filter = r;
      const auto first = live.filtered_statements();
      if (!first.empty()) live.show_statement(first.front());
    }
    ImGui::EndCombo();
  }
  if (image && image->statement >= 0 && image->statement < static_cast<int64_t>(session->statements().size())) {
    const LiveStatement& st = session->statements()[static_cast<size_t>(image->statement)];
    ImGui::SameLine();
    ImGui::TextColored(st.label ? ImVec4(0.45f, 0.85f, 0.5f, 1) : ImVec4(0.95f, 0.6f, 0.4f, 1), "%s",
                       st.label ? "true" : "false");
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s (%s)", st.text.c_str(), st.relation.c_str());
  }
  ImGui::SameLine();
  ImGui::TextDisabled("|");
  ImGui::SameLine();
  LiveTextBox& box = live_file_box();
  box.sync(live.file_path());
  const float open_width = ImGui::CalcTextSize("Open").x + ImGui::GetStyle().FramePadding.x * 2;
  ImGui::SetNextItemWidth(std::max(120.0f, ImGui::GetContentRegionAvail().x - open_width - 8));
  const bool enter = ImGui::InputTextWithHint("##image_file", "or open an image file (PNG, JPEG, BMP path)", box.buffer,
                                              sizeof(box.buffer), ImGuiInputTextFlags_EnterReturnsTrue);
  ImGui::SameLine();
  if ((ImGui::Button("Open") || enter) && box.buffer[0] != '\0') live.open_file(box.buffer);
  const DataStatus st = live.image_status();
  if (st.state == DataState::kFailed) ImGui::TextColored(kLiveErrorColor, "image: %s", st.message.c_str());
}

void draw_question_box(LiveViews& live, float width) {
  LiveTextBox& box = live_question_box();
  box.sync(live.question());
  ImGui::AlignTextToFramePadding();
  ImGui::TextUnformatted("Question");
  ImGui::SameLine();
  const float ask_width = ImGui::CalcTextSize("Ask").x + ImGui::GetStyle().FramePadding.x * 2;
  ImGui::SetNextItemWidth(std::max(100.0f, width - ImGui::CalcTextSize("Question").x - ask_width - 24));
  const bool enter = ImGui::InputText("##question", box.buffer, sizeof(box.buffer), ImGuiInputTextFlags_EnterReturnsTrue);
  ImGui::SameLine();
  if (ImGui::Button("Ask") || enter) {
    live.set_question(box.buffer);
    box.synced = box.buffer;
  }
  if (!live.prompt_error().empty()) ImGui::TextColored(kLiveErrorColor, "%s", live.prompt_error().c_str());
}

namespace {

// The live answer, or nullptr after saying why there is none (the query failed, or it is
// still computing).
std::shared_ptr<const LiveResult> answer_or_status(const LiveViews& live) {
  if (!live.query_error().empty()) {
    ImGui::TextColored(kLiveErrorColor, "query failed: %s", live.query_error().c_str());
    return nullptr;
  }
  auto r = live.result();
  if (!r) ImGui::TextDisabled("computing the answer...");
  return r;
}

}  // namespace

void draw_answer_table(const LiveViews& live) {
  const auto r = answer_or_status(live);
  if (!r) return;
  const bool toggled = !live.features_on().empty() || !live.heads_on().empty();
  const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingFixedFit;
  if (!ImGui::BeginTable("live_answer", 5, flags)) return;
  for (const char* name : {"", "answer", "P(yes)", "P(no)", "P(yes) / (P(yes)+P(no))"}) ImGui::TableSetupColumn(name);
  ImGui::TableHeadersRow();
  const std::pair<const char*, const LiveAnswer*> rows[] = {{"model", &r->baseline},
                                                            {"with toggles", &r->intervened}};
  for (const auto& [name, a] : rows) {
    const bool dim = a == &r->intervened && !toggled;
    ImGui::TableNextRow();
    ImGui::TableSetColumnIndex(0);
    dim ? ImGui::TextDisabled("%s", name) : ImGui::TextUnformatted(name);
    ImGui::TableSetColumnIndex(1);
    ImGui::TextUnformatted(a->answer_text.c_str());
    ImGui::TableSetColumnIndex(2);
    ImGui::Text("%.4f", a->p_yes);
    ImGui::TableSetColumnIndex(3);
    ImGui::Text("%.4f", a->p_no);
    ImGui::TableSetColumnIndex(4);
    ImGui::Text("%.4f", a->p_yes_normalised);
  }
  ImGui::EndTable();
  if (live.result_stale()) ImGui::TextDisabled("(updating...)");
}

void draw_answer_line(const LiveViews& live) {
  const auto r = answer_or_status(live);
  if (!r) return;
  ImGui::Text("Answer: %s   P(yes) %.3f   P(no) %.3f", r->baseline.answer_text.c_str(), r->baseline.p_yes,
              r->baseline.p_no);
  if (!live.features_on().empty() || !live.heads_on().empty()) {
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(0.95f, 0.75f, 0.35f, 1), "   with %zu toggled: %s   P(yes) %.3f",
                       live.features_on().size() + live.heads_on().size(), r->intervened.answer_text.c_str(),
                       r->intervened.p_yes);
  }
  if (live.result_stale()) {
    ImGui::SameLine();
    ImGui::TextDisabled("(updating...)");
  }
}

void draw_overlay_image(AppState& state, const LiveViews& live, ImVec2 min, ImVec2 max, const AttentionMap& map,
                        std::pair<float, float> range, uint64_t key) {
  const auto image = live.image();
  ImDrawList* list = ImGui::GetWindowDrawList();
  if (!image) {
    list->AddRectFilled(min, max, IM_COL32(40, 44, 52, 255));
    return;
  }
  if (!state.gpu->overlay) state.gpu->overlay = std::make_unique<gl::OverlayRenderer>();
  gl::OverlayRenderer& r = *state.gpu->overlay;
  r.set_image(image->width, image->height, image->rgb.data(), image->version);
  gl::OverlayParams p;
  p.range_min = range.first;
  p.range_max = range.second;
  p.alpha = live.style.alpha;
  p.weighted = live.style.weighted;
  p.smooth = live.style.smooth;
  p.colormap = live.style.colormap;
  r.draw(list, min, max, map.grid > 0 ? map.values.data() : nullptr, map.grid, key, p);
}

uint64_t overlay_key(uint64_t result_id, int layer, int head, AttentionRows rows, int64_t row) {
  uint64_t h = live_mix(0, result_id);
  h = live_mix(h, static_cast<uint64_t>(layer));
  h = live_mix(h, static_cast<uint64_t>(head));
  h = live_mix(h, static_cast<uint64_t>(rows));
  return live_mix(h, static_cast<uint64_t>(row));
}

std::string toggle_label(const SaeFeature& feature) {
  return "L" + std::to_string(feature.layer) + " #" + std::to_string(feature.feature);
}

std::string toggle_label(int layer, int head) { return "L" + std::to_string(layer) + " H" + std::to_string(head); }

}  // namespace sightline::ui

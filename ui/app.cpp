// Index of this file:
// [SECTION] Options
// [SECTION] Window, ImGui and GL set-up (Session)
// [SECTION] One frame
// [SECTION] Interactive loop (sleeps when idle)
// [SECTION] Screenshot mode
// [SECTION] Benchmark mode
// [SECTION] run_gui
#include "ui/app.h"

#include "ui/gl/gl.h"
#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "core/common/error.h"
#include "core/io/json_util.h"
#include "ui/app_state.h"
#include "ui/bench_path.h"
#include "ui/gl/capture.h"
#include "ui/gpu_resources.h"
#include "ui/layout.h"
#include "ui/live_options.h"
#include "ui/live_views.h"
#include "ui/plot/plot.h"
#include "ui/store_loader.h"

namespace sightline::ui {

//-----------------------------------------------------------------------------
// [SECTION] Options
//-----------------------------------------------------------------------------

std::pair<int, int> parse_select(const std::string& text) {
  const size_t colon = text.find(':');
  int layer = -1, feature = -1;
  size_t used_l = 0, used_f = 0;
  try {
    if (colon != std::string::npos && colon > 0 && colon + 1 < text.size()) {
      layer = std::stoi(text.substr(0, colon), &used_l);
      feature = std::stoi(text.substr(colon + 1), &used_f);
    }
  } catch (const std::exception&) {
    layer = -1;
  }
  check(colon != std::string::npos && used_l == colon && used_f == text.size() - colon - 1 && layer >= 0 &&
            feature >= 0,
        "--select '{}': expected LAYER:FEATURE with two non-negative integers, e.g. 12:345", text);
  return {layer, feature};
}

void validate(const GuiOptions& o) {
  bool known = o.view == "gallery";
  for (const char* name : kViewNames) known = known || o.view == name;
  check(known, "--view '{}': expected one of scatter, layers, curves, sweep, heatmaps, heads, overlays, ablation, fig9, gallery",
        o.view);
  check(o.statement >= 0, "--statement {}: expected a non-negative index", o.statement);
  check(o.alpha == -1 || (o.alpha >= 0 && o.alpha <= 1), "--alpha {}: expected 0..1", o.alpha);
  check(o.query_token >= -1, "--query-token {}: expected a prompt position (or -1 for the last)", o.query_token);
  if (!o.head.empty()) {
    try {
      parse_select(o.head);
    } catch (const Error&) {
      fail("--head '{}': expected LAYER:HEAD with two non-negative integers, e.g. 1:0", o.head);
    }
  }
  if (!o.ablate.empty()) parse_ablate(o.ablate);
  check(o.frames >= 1 && o.frames <= 100000, "--frames {}: expected 1..100000", o.frames);
  check(o.bench_frames >= 8, "benchmark frames {}: expected at least 8", o.bench_frames);
  check(o.synthetic <= (size_t{1} << 26), "--synthetic {}: at most 2^26 features", o.synthetic);
  check(o.width == 0 || (o.width >= 320 && o.width <= 16384), "window width {}: expected 320..16384", o.width);
  check(o.height == 0 || (o.height >= 240 && o.height <= 16384), "window height {}: expected 240..16384", o.height);
  check(!(o.bench && !o.screenshot.empty()), "--bench and --screenshot do not go together");
  if (!o.select.empty()) parse_select(o.select);
  if (!o.fig9.empty()) parse_fig9_option(o.fig9);
  if (!o.db_path.empty())
    check(std::filesystem::exists(o.db_path), "--db '{}': no such file", o.db_path);
  if (!o.world_dir.empty())
    check(std::filesystem::is_directory(o.world_dir), "--world '{}': no such directory", o.world_dir);
}

namespace {

//-----------------------------------------------------------------------------
// [SECTION] Window, ImGui and GL set-up (Session)
//-----------------------------------------------------------------------------

std::string& glfw_error() {
  static std::string message;
  return message;
}

// Input events since the loop last looked: the idle loop renders only after one.
std::atomic<int> g_events{0};

void count_event() { g_events.fetch_add(1); }

// Installed before ImGui's backend, which chains to them.
void install_event_callbacks(GLFWwindow* window) {
  glfwSetCursorPosCallback(window, [](GLFWwindow*, double, double) { count_event(); });
  glfwSetMouseButtonCallback(window, [](GLFWwindow*, int, int, int) { count_event(); });
  glfwSetScrollCallback(window, [](GLFWwindow*, double, double) { count_event(); });
  glfwSetKeyCallback(window, [](GLFWwindow* w, int key, int, int action, int mods) {
    count_event();
    if (key == GLFW_KEY_Q && action == GLFW_PRESS && (mods & GLFW_MOD_CONTROL)) glfwSetWindowShouldClose(w, 1);
  });
  glfwSetCharCallback(window, [](GLFWwindow*, unsigned int) { count_event(); });
  glfwSetWindowSizeCallback(window, [](GLFWwindow*, int, int) { count_event(); });
  glfwSetWindowFocusCallback(window, [](GLFWwindow*, int) { count_event(); });
  glfwSetCursorEnterCallback(window, [](GLFWwindow*, int) { count_event(); });
  glfwSetWindowRefreshCallback(window, [](GLFWwindow*) { count_event(); });
}

// Opens the window, GL context and ImGui; tears them down in reverse order.
class Session {
 public:
  Session(int width, int height, const std::string& title, bool vsync) {
    glfwSetErrorCallback([](int code, const char* text) { glfw_error() = fmt::format("GLFW error {}: {}", code, text); });
    // A display named in DISPLAY may still be starting (xvfb-run on a loaded machine
    // hands over before Xvfb accepts connections): retry for a few seconds before failing.
    bool opened = glfwInit();
    for (int attempt = 0; !opened && std::getenv("DISPLAY") && attempt < 20; ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      opened = glfwInit();
    }
    if (!opened) fail("gui: cannot open a display ({}); set DISPLAY or run under xvfb-run", glfw_error());
    glfw_ = true;
    glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
    glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
    glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GLFW_TRUE);
    window_ = glfwCreateWindow(width, height, title.c_str(), nullptr, nullptr);
    if (!window_) {
      glfwTerminate();
      glfw_ = false;
      fail("gui: cannot create a {}x{} window with an OpenGL 3.3 core context ({})", width, height, glfw_error());
    }
    glfwMakeContextCurrent(window_);
    glfwSwapInterval(vsync ? 1 : 0);
    install_event_callbacks(window_);

    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr;  // the layout is ours (Settings), not imgui.ini's
    io.ConfigFlags |= ImGuiConfigFlags_NavEnableKeyboard;
    ImGui::StyleColorsDark();
    load_font();
    ImGui_ImplGlfw_InitForOpenGL(window_, true);
    ImGui_ImplOpenGL3_Init("#version 330");
    // ImGui draws text and every filled shape from its font atlas. Glyphs are rasterised at
    // their screen size and placed on whole pixels, so nearest sampling looks the same as
    // the backend's linear sampling and is much cheaper on a software rasteriser (llvmpipe).
    ImGui_ImplOpenGL3_CreateDeviceObjects();
    glBindTexture(GL_TEXTURE_2D, static_cast<GLuint>(reinterpret_cast<intptr_t>(io.Fonts->TexID)));
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
    glBindTexture(GL_TEXTURE_2D, 0);
    spdlog::info("gui: OpenGL {} on {}", reinterpret_cast<const char*>(glGetString(GL_VERSION)),
                 reinterpret_cast<const char*>(glGetString(GL_RENDERER)));
  }

  ~Session() {
    if (window_) {
      ImGui_ImplOpenGL3_Shutdown();
      ImGui_ImplGlfw_Shutdown();
      ImGui::DestroyContext();
      glfwDestroyWindow(window_);
    }
    if (glfw_) glfwTerminate();
  }

  GLFWwindow* window() const { return window_; }

 private:
  // DejaVu Sans from Debian's fonts-dejavu-core when present, else ImGui's built-in font.
  static void load_font() {
    const char* path = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    ImGuiIO& io = ImGui::GetIO();
    std::error_code ec;
    if (std::filesystem::exists(path, ec) && io.Fonts->AddFontFromFileTTF(path, 15.0f)) return;
    io.Fonts->AddFontDefault();
  }

  GLFWwindow* window_ = nullptr;
  bool glfw_ = false;
};

//-----------------------------------------------------------------------------
// [SECTION] One frame
//-----------------------------------------------------------------------------

struct FrameResult {
  LayoutEvents events;
  int fb_width = 0, fb_height = 0;
  double build_ms = 0;  // views + ImGui::Render (CPU)
  int vertices = 0;     // ImGui's vertices this frame
};

// Builds and renders one frame into the back buffer (not swapped).
FrameResult render_frame(AppState& state, GLFWwindow* window) {
  const auto t0 = std::chrono::steady_clock::now();
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  ImGui::NewFrame();
  plot::new_frame();
  state.update();
  FrameResult result;
  result.events = draw_main_window(state);
  ImGui::Render();
  result.build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  result.vertices = ImGui::GetDrawData()->TotalVtxCount;
  glfwGetFramebufferSize(window, &result.fb_width, &result.fb_height);
  glViewport(0, 0, result.fb_width, result.fb_height);
  // The main window draws no background (a full-window textured quad is ~10 ms on
  // llvmpipe): the clear colour is the window background.
  const ImVec4 bg = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];
  glClearColor(bg.x, bg.y, bg.z, 1.0f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  plot::process_captures(result.fb_height);
  return result;
}

void handle_events(AppState& state, GLFWwindow* window, const LayoutEvents& events, uint64_t seed) {
  if (events.quit) glfwSetWindowShouldClose(window, 1);
  if (events.generate_synthetic) start_synthetic_data(state, events.synthetic_features, seed);
}

// Applies --select once the scatter model is ready; throws when the feature is absent.
void apply_select(AppState& state, const std::string& select) {
  const auto [layer, feature] = parse_select(select);
  const auto model = state.model();
  const int64_t row = model->table().find(layer, feature);
  check(row >= 0, "--select {}: no feature {} in layer {} of '{}'", select, feature, layer, model->table().source);
  state.select(row);
}

// True when nothing is computing any more (every slot is ready, missing or failed).
// update() first, so that a table published just now starts its derived work.
bool data_settled(AppState& state) {
  state.update();
  const DataState states[] = {state.snapshot->features.status().state, state.scatter.status().state,
                              state.snapshot->curves.status().state, state.snapshot->heat_maps.status().state, state.snapshot->results.status().state,
                              state.snapshot->shift.status().state, state.snapshot->bookmarks.status().state,
                              state.snapshot->sweep.status().state, state.live_sweep.status().state};
  for (DataState s : states)
    if (s == DataState::kComputing) return false;
  if (state.live_sweep_pending()) return false;
  if (state.live) {
    state.live->update(state.tasks);
    if (state.live->busy()) return false;
  }
  return !state.tasks.any_running();
}

//-----------------------------------------------------------------------------
// [SECTION] Interactive loop (sleeps when idle)
//-----------------------------------------------------------------------------

// Copies the live state that Settings persists (thresholds, window size) into it.
void sync_settings(AppState& state, GLFWwindow* window) {
  state.settings.eps = state.thresholds.eps;
  state.settings.p_cos = state.thresholds.p_cos;
  int w = 0, h = 0;
  glfwGetWindowSize(window, &w, &h);
  if (w >= 320 && h >= 240) {
    state.settings.window_width = w;
    state.settings.window_height = h;
  }
}

// Writes the settings when they changed since the last write (at most once a second), so
// a crash or a kill loses at most a second of layout changes.
class SettingsSaver {
 public:
  // on_disk: what the settings file holds now (the defaults when it does not exist).
  explicit SettingsSaver(nlohmann::json on_disk) : last_(std::move(on_disk)) {}
  void maybe_save(AppState& state, GLFWwindow* window, bool force) {
    const auto now = std::chrono::steady_clock::now();
    if (state.settings_path.empty() || (!force && now - checked_ < std::chrono::seconds(1))) return;
    checked_ = now;
    sync_settings(state, window);
    nlohmann::json current = settings_to_json(state.settings);
    if (current == last_) return;
    try {
      save_settings(state.settings_path, state.settings);
      last_ = std::move(current);
    } catch (const std::exception& e) {
      if (!warned_) spdlog::warn("{} (settings are not saved)", e.what());
      warned_ = true;
    }
  }

 private:
  nlohmann::json last_;
  std::chrono::steady_clock::time_point checked_ = std::chrono::steady_clock::now();
  bool warned_ = false;
};

void run_interactive(AppState& state, GLFWwindow* window, const GuiOptions& options,
                     const nlohmann::json& settings_on_disk) {
  int frames_left = 3;  // ImGui settles layout over a couple of frames after any input
  bool was_busy = false;
  bool select_pending = !options.select.empty();
  SettingsSaver saver(settings_on_disk);
  while (!glfwWindowShouldClose(window)) {
    // The live views' queries run on their service's thread, not as tasks: count them too.
    const bool busy = state.tasks.any_running() || (state.live && state.live->busy());
    if (frames_left <= 0 && g_events.load() == 0) {
      // Idle: block until input, waking at 10 Hz while jobs run (progress bars).
      glfwWaitEventsTimeout(busy ? 0.1 : 0.5);
    } else {
      glfwPollEvents();
    }
    if (g_events.exchange(0) > 0) frames_left = 3;
    if (busy || was_busy) frames_left = std::max(frames_left, 1);
    was_busy = busy;
    saver.maybe_save(state, window, false);
    if (frames_left <= 0) continue;
    --frames_left;
    const FrameResult frame = render_frame(state, window);
    glfwSwapBuffers(window);
    handle_events(state, window, frame.events, options.seed);
    if (select_pending && state.model()) {
      select_pending = false;
      try {
        apply_select(state, options.select);
      } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
      }
    }
  }
  saver.maybe_save(state, window, true);
}

//-----------------------------------------------------------------------------
// [SECTION] Screenshot mode
//-----------------------------------------------------------------------------

nlohmann::json sidecar_plot_json(const PlotReport& r) {
  return {{"drawn", r.drawn},
          {"area", {r.area.x0, r.area.y0, r.area.x1, r.area.y1}},
          {"view", {{"x", {r.view.x.min, r.view.x.max}}, {"y", {r.view.y.min, r.view.y.max}}}}};
}

// NaN (undefined Spearman, a marker off the grid) as JSON null.
nlohmann::json sidecar_number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

nlohmann::json sidecar(const AppState& state, const GuiOptions& options, int width, int height) {
  const ScatterReport& r = state.scatter_report;
  nlohmann::json scatter = {
      {"drawn", r.drawn},
      {"area", {r.area.x0, r.area.y0, r.area.x1, r.area.y1}},
      {"view", {{"x", {r.view.x.min, r.view.x.max}}, {"y", {r.view.y.min, r.view.y.max}}}},
      {"density", r.density},
      {"points_in_view", r.points_in_view},
      {"eps", state.thresholds.eps},
      {"p_cos", state.thresholds.p_cos},
      {"cosine_threshold", r.cosine_threshold},
  };
  nlohmann::json j = {{"png", options.screenshot}, {"width", width},   {"height", height},
                      {"view", options.view},      {"frames", options.frames}, {"scatter", scatter}};
  const auto model = state.model();
  const HeadsReport& h = state.heads_report;
  j["heads"] = {{"drawn", h.drawn},
                {"area", {h.area.x0, h.area.y0, h.area.x1, h.area.y1}},
                {"view", {{"x", {h.view.x.min, h.view.x.max}}, {"y", {h.view.y.min, h.view.y.max}}}},
                {"rows", h.rows},
                {"cols", h.cols},
                {"method", h.method},
                {"curve", sidecar_plot_json(h.curve)},
                {"scatter", sidecar_plot_json(h.scatter)}};
  j["heads"]["series"] = nlohmann::json::array();
  for (const HeadsScatterSeries& s : h.series)
    j["heads"]["series"].push_back(
        {{"method", s.method}, {"spearman", sidecar_number(s.spearman)}, {"points", s.points}});
  const SweepReport& sw = state.sweep_report;
  j["sweep"] = {{"drawn", sw.drawn}, {"marker", {sidecar_number(sw.marker_x), sidecar_number(sw.marker_y)}},
                {"maps", nlohmann::json::array()}};
  for (const SweepMapReport& m : sw.maps) {
    nlohmann::json map = sidecar_plot_json(m.plot);
    map["key"] = m.key;
    map["title"] = m.title;
    map["rows"] = m.rows;
    map["cols"] = m.cols;
    map["range"] = {m.range.min, m.range.max};
    map["colormap"] = m.colormap;
    j["sweep"]["maps"].push_back(map);
  }
  j["live"] = live_sidecar(state.live_report);
  j["find"] = find_report_json(state.find.report);
  j["features"] = model ? model->table().size() : 0;
  if (model && state.selected >= 0) {
    j["selected"] = {{"row", state.selected},
                     {"layer", model->table().layer[state.selected]},
                     {"feature", model->table().feature[state.selected]}};
  } else {
    j["selected"] = nullptr;
  }
  return j;
}

// Renders until the data has settled, then `frames` more frames, and writes the last one.
void run_screenshot(AppState& state, GLFWwindow* window, const GuiOptions& options) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (!data_settled(state)) {
    check(std::chrono::steady_clock::now() < deadline, "--screenshot: the data was not ready after 5 minutes");
    glfwPollEvents();
    render_frame(state, window);
    glfwSwapBuffers(window);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!options.select.empty() && state.model()) apply_select(state, options.select);
  if (options.view == "gallery")
    state.show_gallery = true;
  else
    state.requested_view = options.view;
  for (int i = 0; i < options.frames; ++i) {
    glfwPollEvents();
    const FrameResult frame = render_frame(state, window);
    if (i + 1 == options.frames) {
      const auto image = gl::read_pixels(0, 0, frame.fb_width, frame.fb_height, frame.fb_height);
      gl::write_png(options.screenshot, image);
      write_json_file(options.screenshot + ".json", sidecar(state, options, image.width, image.height));
      spdlog::info("gui: wrote {} ({}x{}) and its .json", options.screenshot, image.width, image.height);
    }
    glfwSwapBuffers(window);
  }
}

//-----------------------------------------------------------------------------
// [SECTION] Benchmark mode
//-----------------------------------------------------------------------------

void print_line(const char* name, const Percentiles& p) {
  std::printf("%-26s n %5zu  p50 %8.3f  p90 %8.3f  p99 %8.3f  max %8.3f  mean %8.3f\n", name, p.count, p.p50, p.p90,
              p.p99, p.max, p.mean);
}

void run_bench(AppState& state, GLFWwindow* window, const GuiOptions& options) {
  while (!data_settled(state)) {
    glfwPollEvents();
    render_frame(state, window);
    glfwSwapBuffers(window);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto model = state.model();
  check(model != nullptr, "--bench: no feature data ({})", state.scatter.status().message);
  const plot::ViewRect full = plot::fit_view(model->index().bounds().x, model->index().bounds().y);
  // Focus: the mean point, inside the densest part of the cloud.
  double fx = 0, fy = 0;
  const auto& table = model->table();
  for (size_t i = 0; i < table.size(); ++i) {
    fx += table.decoder_cosine[i];
    fy += model->log_energy()[i];
  }
  fx /= std::max<size_t>(table.size(), 1);
  fy /= std::max<size_t>(table.size(), 1);

  plot::ViewRect camera = full;
  state.scatter_camera = &camera;
  state.requested_view = "scatter";
  for (int i = 0; i < 5; ++i) {  // warm-up: tab switch, FBO allocation, first upload
    render_frame(state, window);
    glfwSwapBuffers(window);
  }
  std::vector<double> all, density, points, build, draw, swap, vertices;
  for (int k = 0; k < options.bench_frames; ++k) {
    camera = bench_camera(full, fx, fy, k, options.bench_frames);
    const auto t0 = std::chrono::steady_clock::now();
    glfwPollEvents();
    const FrameResult frame = render_frame(state, window);
    glFinish();  // llvmpipe renders on its own threads: wait, so that draw time is counted
    const auto t1 = std::chrono::steady_clock::now();
    glfwSwapBuffers(window);
    glFinish();
    const auto t2 = std::chrono::steady_clock::now();
    const double ms = std::chrono::duration<double, std::milli>(t2 - t0).count();
    all.push_back(ms);
    (state.scatter_report.density ? density : points).push_back(ms);
    build.push_back(frame.build_ms);
    draw.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count() - frame.build_ms);
    swap.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    vertices.push_back(frame.vertices);
  }

  // Hover picks at random pixels of the plot area, zoomed out and zoomed in.
  const plot::PixelRect area = state.scatter_report.area;
  std::mt19937 rng(7);
  std::vector<double> picks;
  int hits = 0;
  for (const plot::ViewRect& view : {full, bench_camera(full, fx, fy, options.bench_frames / 2, options.bench_frames)}) {
    const plot::Transform t(area, view);
    std::uniform_real_distribution<double> ux(area.x0, area.x1), uy(area.y0, area.y1);
    for (int i = 0; i < 2000; ++i) {
      const double px = ux(rng), py = uy(rng);
      const auto t0 = std::chrono::steady_clock::now();
      const int64_t row = model->pick(t.to_data_x(px), t.to_data_y(py), t.scale_x(), t.scale_y(), 8.0, state.layer_mask);
      picks.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      hits += row >= 0;
    }
  }
  state.scatter_camera = nullptr;

  int fb_w = 0, fb_h = 0;
  glfwGetFramebufferSize(window, &fb_w, &fb_h);
  const Percentiles p = percentiles(all);
  std::printf("bench: %zu features, %d frames of scripted pan/zoom, %dx%d, %s, density above %d points in view\n",
              table.size(), options.bench_frames, fb_w, fb_h, reinterpret_cast<const char*>(glGetString(GL_RENDERER)),
              state.settings.density_threshold);
  std::printf("p50 %.3f ms\np90 %.3f ms\np99 %.3f ms\n", p.p50, p.p90, p.p99);
  print_line("frame ms (all)", p);
  print_line("frame ms (density image)", percentiles(density));
  print_line("frame ms (points)", percentiles(points));
  print_line("  views + ImGui build ms", percentiles(build));
  print_line("  GL draw ms", percentiles(draw));
  print_line("  swap ms", percentiles(swap));
  print_line("  ImGui vertices", percentiles(vertices));
  for (double& ms : picks) ms *= 1000;
  print_line("hover pick us", percentiles(picks));
  std::printf("hover picks: %zu, %d found a feature within 8 px\n", picks.size(), hits);
  std::fflush(stdout);
}

}  // namespace

//-----------------------------------------------------------------------------
// [SECTION] run_gui
//-----------------------------------------------------------------------------

int run_gui(const GuiOptions& input) {
  GuiOptions options = input;
  validate(options);
  const bool scripted = options.bench || !options.screenshot.empty();
  if (options.bench && options.synthetic == 0) options.synthetic = 1048576;

  AppState state;
  // Screenshots and benchmarks use the defaults so that their output is reproducible.
  if (!scripted) {
    state.settings_path = options.settings_path.empty() ? default_settings_path() : options.settings_path;
    try {
      state.settings = load_settings(state.settings_path);
    } catch (const std::exception& e) {
      spdlog::warn("{} (using default settings)", e.what());
    }
  }
  const nlohmann::json settings_on_disk = settings_to_json(state.settings);
  state.thresholds = {state.settings.eps, state.settings.p_cos};
  state.colormap = plot::colormap_from_name(state.settings.colormap).value_or(plot::Colormap::kViridis);
  plot::set_export_dir(state.settings.export_dir);
  state.db_path = options.db_path;
  state.world_dir = options.world_dir;
  if (!options.db_path.empty()) state.settings.last_db = options.db_path;
  if (!options.world_dir.empty()) state.settings.last_world = options.world_dir;
  state.requested_view = options.view == "gallery" ? "scatter" : options.view;
  state.show_gallery = options.view == "gallery";
  if (!options.fig9.empty()) {
    const auto [set, layer] = parse_fig9_option(options.fig9);
    state.find.fig9_set = static_cast<int>(set);
    state.find.fig9_layer = layer;
  }

  const int width = options.width ? options.width : scripted ? 1600 : state.settings.window_width;
  const int height = options.height ? options.height : scripted ? 1000 : state.settings.window_height;
  Session session(width, height, "Sightline explorer", !scripted);
  // Scripted runs ignore the pointer: wherever the X cursor sits must not add hover
  // tooltips to a screenshot or a benchmark frame.
  if (scripted) ImGui::GetIO().ConfigFlags |= ImGuiConfigFlags_NoMouse;
  state.log = install_log_buffer();
  state.gpu = std::make_unique<GpuResources>();
  struct Teardown {  // GL objects go before the context does
    AppState& state;
    ~Teardown() {
      state.tasks.cancel_all();
      state.tasks.join_all();
      state.gpu.reset();
      plot::shutdown();
      uninstall_log_buffer(state.log);
    }
  } teardown{state};

  if (options.synthetic > 0) {
    start_synthetic_data(state, options.synthetic, options.seed);
  } else if (!options.db_path.empty()) {
    start_store_load(state.tasks, state.snapshot, options.db_path, state.world_dir);
  } else if (!state.settings.last_db.empty() && std::filesystem::exists(state.settings.last_db)) {
    spdlog::info("gui: opening the last store, '{}'", state.settings.last_db);
    state.db_path = state.settings.last_db;
    start_store_load(state.tasks, state.snapshot, state.db_path, state.world_dir);
  } else {
    if (!state.settings.last_db.empty())
      spdlog::warn("gui: the last store, '{}', no longer exists", state.settings.last_db);
    mark_data_missing(state, "no --db given; File > Synthetic data explores generated data");
  }

  // Views 5 and 6: load the live model now when they are shown or configured, so that a
  // screenshot waits for it (data_settled).
  start_live_views(state, options);

  if (options.bench) {
    run_bench(state, session.window(), options);
  } else if (!options.screenshot.empty()) {
    run_screenshot(state, session.window(), options);
  } else {
    run_interactive(state, session.window(), options, settings_on_disk);
  }
  return 0;
}

}  // namespace sightline::ui

#include "app/progress_bar.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>

namespace sightline::app {

namespace {
std::mutex g_print_mutex;
std::atomic<Progress*> g_active{nullptr};
bool g_tty = false;

void on_sigint(int) {
  if (Progress* p = g_active.load()) p->cancel();
}

std::string format_seconds(double s) {
  if (s < 0) return "?";
  const int t = static_cast<int>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", t / 3600, (t / 60) % 60);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", t / 60, t % 60);
  return buf;
}

// "done/total", or just "done" while the total is unknown (0).
std::string count_text(const Progress& p) {
  const auto done = static_cast<long long>(p.done()), total = static_cast<long long>(p.total());
  return total > 0 ? std::to_string(done) + "/" + std::to_string(total) : std::to_string(done);
}

void draw(const Progress& p) {
  const double f = p.fraction();
  const int width = 30;
  const int filled = f < 0 ? 0 : static_cast<int>(f * width);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "\r\033[K%-18s [%s] %s  ETA %s", p.label().c_str(), bar.c_str(), count_text(p).c_str(),
               format_seconds(p.eta_seconds()).c_str());
  std::fflush(stderr);
}
}  // namespace

void progress_log(const std::string& line) {
  std::lock_guard<std::mutex> lock(g_print_mutex);
  if (g_tty) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void run_with_progress(const std::function<void(Progress&)>& work) {
  Progress progress;
  g_tty = isatty(STDERR_FILENO);
  g_active.store(&progress);
  auto previous = std::signal(SIGINT, on_sigint);
  std::exception_ptr error;
  std::atomic<bool> done{false};
  std::thread worker([&] {
    try {
      work(progress);
    } catch (...) {
      error = std::current_exception();
    }
    done.store(true);
  });
  // Without a terminal (CI logs, pipes): one line per stage and per 10% of it.
  std::string last_label;
  int last_decile = -1;
  while (!done.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(g_tty ? 200 : 50));
    if (done.load()) break;
    std::lock_guard<std::mutex> lock(g_print_mutex);
    if (g_tty) {
      draw(progress);
      continue;
    }
    const std::string label = progress.label();
    const double f = progress.fraction();
    const int decile = f < 0 ? -1 : static_cast<int>(f * 10);
    if (label != last_label || decile != last_decile) {
      if (!label.empty() && (label != last_label || decile > 0)) {
        std::fprintf(stderr, "[%s] %s%s%s\n", label.c_str(), count_text(progress).c_str(), decile > 0 ? "  ETA " : "",
                     decile > 0 ? format_seconds(progress.eta_seconds()).c_str() : "");
        std::fflush(stderr);
      }
      last_label = label;
      last_decile = decile;
    }
  }
  worker.join();
  if (g_tty) {
    std::lock_guard<std::mutex> lock(g_print_mutex);
    std::fprintf(stderr, "\r\033[K");
  }
  std::signal(SIGINT, previous);
  g_active.store(nullptr);
  if (error) std::rethrow_exception(error);
}

}  // namespace sightline::app

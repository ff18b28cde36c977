// The per-stage profile table (see profile.h).
#include "tensor/profile.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace mrc::profile {

namespace {

bool initial_enabled() {
  const char* v = std::getenv("MRC_PROFILE");
  return v && *v && std::string(v) != "0";
}

bool g_enabled = initial_enabled();
std::mutex g_mutex;
std::vector<Entry> g_entries;
thread_local Scope* t_scope = nullptr;  // innermost open scope

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

bool enabled() { return g_enabled; }
void set_enabled(bool on) { g_enabled = on; }

std::vector<Entry> entries() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_entries;
}

void reset() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_entries.clear();
}

void add(const std::string& name, double ms) {
  std::lock_guard<std::mutex> lock(g_mutex);
  for (Entry& e : g_entries)
    if (e.name == name) {
      e.ms += ms;
      ++e.calls;
      return;
    }
  g_entries.push_back({name, ms, 1});
}

const char* current_stage() { return g_enabled && t_scope ? t_scope->name() : nullptr; }

Scope::Scope(const char* name) {
  if (!g_enabled) return;
  name_ = name;
  outer_ = t_scope;
  t_scope = this;
  start_ = now_ms();
}

Scope::~Scope() {
  if (!name_) return;
  const double ms = now_ms() - start_;
  add(name_, ms - nested_ms_);
  if (outer_) outer_->nested_ms_ += ms;
  t_scope = outer_;
}

std::string report(int runs) {
  const std::vector<Entry> es = entries();
  double total = 0;
  for (const Entry& e : es) total += e.ms;
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%-28s %10s %7s %7s\n", "stage", "ms/run", "calls", "share");
  out += line;
  for (const Entry& e : es) {
    std::snprintf(line, sizeof line, "%-28s %10.2f %7ld %6.1f%%\n", e.name.c_str(), e.ms / runs, e.calls / runs,
                  total > 0 ? 100 * e.ms / total : 0.0);
    out += line;
  }
  return out;
}

PrintAtExit::~PrintAtExit() {
  if (enabled() && !entries().empty()) std::fprintf(stderr, "profile (ms, all calls)\n%s", report(1).c_str());
}

}  // namespace mrc::profile

// Shared by the benchmark binaries: argument parsing (--device, --filter, --profile), median timing after
// warm-up, the JSON line every case prints, and the per-stage profile lines.
#pragma once
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "tensor/profile.h"

namespace mrc::bench {

struct Args {
  std::string device = "cpu";
  std::string filter;
  bool profile = false;  // --profile: benches that have stages also print a per-stage profile
  bool selected(const std::string& name) const { return filter.empty() || std::regex_search(name, std::regex(filter)); }
};

inline Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--profile") a.profile = true;
    else if (k == "--device" && i + 1 < argc) a.device = argv[++i];
    else if (k == "--filter" && i + 1 < argc) a.filter = argv[++i];
  }
  return a;
}

// CPU time of this process (all threads) in milliseconds.
inline double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
}

// Process CPU time per run of the last median_ms's timed runs: on a shared machine it moves far less than
// wall time, so A/B comparisons use it (with OMP_WAIT_POLICY=passive, so idle threads do not spin).
inline double& last_cpu_ms() {
  static double v = 0;
  return v;
}

// Median wall time of f in milliseconds over `reps` runs after `warmup` runs (CPU; synchronous work).
inline double median_ms(const std::function<void()>& f, int warmup = 2, int reps = 7) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  const double cpu0 = process_cpu_ms();
  for (int i = 0; i < reps; ++i) {
    const auto s = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
  }
  last_cpu_ms() = (process_cpu_ms() - cpu0) / reps;
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// {"bench": name, "device": device, "ours_ms": ms, <extra>}; the reference joins in scripts/bench.
inline void print_case(const std::string& name, const std::string& device, double ours_ms, const std::string& extra = "") {
  std::printf("{\"bench\": \"%s\", \"device\": \"%s\", \"ours_ms\": %.4f, \"cpu_ms\": %.4f%s%s}\n", name.c_str(),
              device.c_str(), ours_ms, last_cpu_ms(), extra.empty() ? "" : ", ", extra.c_str());
  std::fflush(stdout);
}

// Runs f `runs` times with the profile on and prints {"profile": name, "stage", "ms"} per stage (ms per
// run), plus the table on stderr; the profile is off again afterwards.
inline void print_profile(const std::string& name, const std::function<void()>& f, int runs = 2) {
  profile::reset();
  profile::set_enabled(true);
  for (int i = 0; i < runs; ++i) f();
  profile::set_enabled(false);
  for (const profile::Entry& e : profile::entries())
    std::printf("{\"profile\": \"%s\", \"impl\": \"ours\", \"stage\": \"%s\", \"ms\": %.3f}\n", name.c_str(),
                e.name.c_str(), e.ms / runs);
  std::fflush(stdout);
  std::fprintf(stderr, "profile of %s (ms per run, %d runs)\n%s", name.c_str(), runs, profile::report(runs).c_str());
}

}  // namespace mrc::bench

// Shared by the benchmark binaries: argument parsing (--device, --filter), median timing after
// warm-up, and the JSON line every case prints.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <regex>
#include <string>
#include <vector>

namespace mrc::bench {

struct Args {
  std::string device = "cpu";
  std::string filter;
  bool selected(const std::string& name) const { return filter.empty() || std::regex_search(name, std::regex(filter)); }
};

inline Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--device") a.device = argv[++i];
    else if (k == "--filter") a.filter = argv[++i];
  }
  return a;
}

// Median wall time of f in milliseconds over `reps` runs after `warmup` runs (CPU; synchronous work).
inline double median_ms(const std::function<void()>& f, int warmup = 2, int reps = 7) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto s = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// {"bench": name, "device": device, "ours_ms": ms, <extra>}; the reference joins in scripts/bench.
inline void print_case(const std::string& name, const std::string& device, double ours_ms, const std::string& extra = "") {
  std::printf("{\"bench\": \"%s\", \"device\": \"%s\", \"ours_ms\": %.4f%s%s}\n", name.c_str(), device.c_str(), ours_ms,
              extra.empty() ? "" : ", ", extra.c_str());
  std::fflush(stdout);
}

}  // namespace mrc::bench

// Problems found while reading or rasterizing a dataset that the caller chose to skip rather than
// fail on (point regions, polygons with < 3 points, unknown classes, missing images...). Readers
// append here; apps print the first few and a count per kind at the end.
#pragma once
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace mrc::data {

struct Warning {
  std::string kind;     // short category used for counting: "point region", "unknown class", ...
  std::string message;  // full sentence naming the file and the entry
};

struct Warnings {
  std::vector<Warning> items;

  void add(std::string kind, std::string message) { items.push_back({std::move(kind), std::move(message)}); }
  size_t size() const { return items.size(); }
  bool empty() const { return items.empty(); }
  size_t count(const std::string& kind) const;
  std::map<std::string, size_t> counts() const;  // per kind
  // Prints up to max_lines messages ("warning: ..."), then "... and N more" and the per-kind counts.
  void print(std::FILE* out = stderr, size_t max_lines = 20) const;
};

}  // namespace mrc::data

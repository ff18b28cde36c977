// Warnings: counting and printing (see warnings.h).
#include "data/warnings.h"

namespace mrc::data {

size_t Warnings::count(const std::string& kind) const {
  size_t n = 0;
  for (const auto& w : items) n += w.kind == kind;
  return n;
}

std::map<std::string, size_t> Warnings::counts() const {
  std::map<std::string, size_t> c;
  for (const auto& w : items) ++c[w.kind];
  return c;
}

void Warnings::print(std::FILE* out, size_t max_lines) const {
  if (items.empty()) return;
  size_t shown = 0;
  for (const auto& w : items) {
    if (shown == max_lines) break;
    std::fprintf(out, "warning: %s\n", w.message.c_str());
    ++shown;
  }
  if (items.size() > shown) std::fprintf(out, "... and %zu more warnings\n", items.size() - shown);
  std::string summary;
  for (const auto& [kind, n] : counts()) {
    if (!summary.empty()) summary += ", ";
    summary += std::to_string(n) + " " + kind;
  }
  std::fprintf(out, "%zu warnings: %s\n", items.size(), summary.c_str());
}

}  // namespace mrc::data

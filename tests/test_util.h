// Helpers shared by the test binaries: where the torch fixtures are, GPU presence, tolerances.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <string>

namespace mrc::test {

// Folder the ctest fixture step wrote this binary's reference data into (MRC_FIXTURES).
inline std::string fixtures_dir() {
  const char* d = std::getenv("MRC_FIXTURES");
  return d ? std::string(d) : std::string();
}
inline std::string fixture(const std::string& name) { return fixtures_dir() + "/" + name; }

inline std::string source_dir() {
  const char* d = std::getenv("MRC_SOURCE_DIR");
  return d ? std::string(d) : std::string(MRC_SOURCE_DIR);
}

// ../shared/data next to the checkout, when present (tests that use it skip otherwise).
inline std::string shared_data_dir() {
  auto p = std::filesystem::path(source_dir()).parent_path() / "shared" / "data";
  return std::filesystem::exists(p) ? p.string() : std::string();
}

inline bool close(double a, double b, double atol, double rtol) {
  double d = a - b;
  if (d < 0) d = -d;
  double r = b < 0 ? -b : b;
  return d <= atol + rtol * r;
}

}  // namespace mrc::test

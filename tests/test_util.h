// Helpers shared by the test binaries: where the torch fixtures are, tolerances, scratch folders
// and error messages.
#pragma once
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

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

// A fresh folder under the system temp dir, removed with everything in it when the test ends. The
// name carries the process id and a counter, so parallel ctest processes and nested scopes never share one.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static std::atomic<int> count{0};
    path = std::filesystem::temp_directory_path() /
           ("mrc_test_" + std::to_string(::getpid()) + "_" + std::to_string(count++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  // Writes `text` to `name` inside the folder and returns the file's path.
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return *this / name;
  }
  // Sorted names of every file and folder inside (a failed atomic write must leave nothing behind).
  std::vector<std::string> files() const {
    std::vector<std::string> v;
    for (const auto& e : std::filesystem::recursive_directory_iterator(path)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
  }
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

// The message of the E that `f` throws, or "<no exception>", so a test can check what the error says
// (an exception of another type escapes and fails the test).
template <typename E = std::exception>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "<no exception>";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// CHECKs that string s contains part, showing s when it does not (reported at the caller's line).
#define MRC_CHECK_CONTAINS(s, part) CHECK_MESSAGE(::mrc::test::contains((s), (part)), "in: " << (s))

}  // namespace mrc::test

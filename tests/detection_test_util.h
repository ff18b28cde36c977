// Helpers shared by the detection-op tests: fixture loading and array comparison with a report of the
// first mismatches and the largest error.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tensor/safetensors.h"
#include "test_util.h"

namespace mrc::test {

// The fixture file written by tests/fixtures/test_<x>.py; fails the test when it is missing.
inline SafetensorsFile load_detection_fixture(const std::string& name) {
  const std::string path = fixture(name);
  REQUIRE_MESSAGE(std::filesystem::exists(path), "missing fixture " << path << " (run through ctest)");
  return read_safetensors(path);
}

// "c3." style fixture keys (built by appending: GCC 12 warns falsely on "c" + std::string at -O3).
inline std::string case_key(const char* prefix, int i, const char* suffix = ".") {
  std::string k(prefix);
  k += std::to_string(i);
  k += suffix;
  return k;
}

template <class T>
std::vector<T> fx(const SafetensorsFile& f, const std::string& name) {
  return f.at(name).as<T>();
}

// |a - b| <= atol + rtol * |b| everywhere (b is the reference). NaN matches only NaN.
template <class A, class B>
void expect_close(const std::vector<A>& actual, const std::vector<B>& expected, double atol, double rtol,
                  const std::string& what) {
  REQUIRE_MESSAGE(actual.size() == expected.size(), what << ": size " << actual.size() << " vs " << expected.size());
  size_t bad = 0;
  double worst = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = double(actual[i]), b = double(expected[i]);
    const bool ok = (std::isnan(a) && std::isnan(b)) || close(a, b, atol, rtol);
    if (!std::isnan(a) && !std::isnan(b)) worst = std::max(worst, std::abs(a - b));
    if (!ok && ++bad <= 5) MESSAGE(what << "[" << i << "]: got " << a << ", expected " << b);
  }
  if (bad) MESSAGE(what << ": " << bad << " of " << actual.size() << " mismatches, max abs error " << worst);
  CHECK_MESSAGE(bad == 0, what);
}

}  // namespace mrc::test

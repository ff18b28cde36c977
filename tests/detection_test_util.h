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

// Runs body(i, "c<i>.") for each of the fixture's metadata["cases"] cases, REQUIRE-ing at least
// `at_least` of them; a failure inside names the case.
template <class F>
void for_each_fixture_case(const SafetensorsFile& f, int at_least, F&& body) {
  const int cases = std::stoi(f.metadata.at("cases"));
  REQUIRE(cases >= at_least);
  for (int i = 0; i < cases; ++i) {
    CAPTURE(i);
    body(i, case_key("c", i));
  }
}

// Calls run(T()) with T = double when fixture entry `key` is float64, else float, so one generic
// lambda checks both precisions.
template <class F>
void with_entry_type(const SafetensorsFile& f, const std::string& key, F&& run) {
  if (f.at(key).dtype == "F64")
    run(0.0);
  else
    run(0.f);
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

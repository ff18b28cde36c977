// Shared by the libFuzzer targets: what counts as a finding. A parser fed arbitrary bytes may reject
// them only with an exception a user can act on (std::runtime_error and its kin, whose message names
// the file and field); a crash, a sanitizer report, or a raw nlohmann::json exception escaping (its
// message names no file and no field) is a bug.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <nlohmann/json.hpp>

namespace mrc::fuzz {

[[noreturn]] inline void finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz finding: %s: %s\n", what, detail.c_str());
  std::abort();
}

// Runs f; user-facing errors are the expected way to refuse bad input.
template <class F>
void expect_clean_errors(F&& f) {
  try {
    f();
  } catch (const nlohmann::json::exception& e) {
    finding("a raw JSON library exception escaped (no file or field named)", e.what());
  } catch (const std::logic_error& e) {
    // std::invalid_argument / std::out_of_range / std::length_error are how readers report bad values too;
    // a bare std::logic_error means a broken invariant.
    if (!dynamic_cast<const std::invalid_argument*>(&e) && !dynamic_cast<const std::out_of_range*>(&e))
      finding("a logic_error escaped", e.what());
  } catch (const std::runtime_error&) {
  }
}

inline void check(bool ok, const char* what, const std::string& detail = "") {
  if (!ok) finding(what, detail);
}

}  // namespace mrc::fuzz

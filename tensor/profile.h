// Per-stage wall-clock profile (MRC_PROFILE=1 in the environment, or profile::set_enabled): named scopes
// add their exclusive time (nested scopes' time goes to them, not to the enclosing one) and call count to a
// process-wide table, so the entries add up to the time covered. The innermost open scope on a thread is
// that thread's stage; autograd nodes recorded inside it time their backward as "backward.<stage>", so one
// forward hook per stage also splits the backward. Off, a scope costs one branch.
#pragma once
#include <string>
#include <vector>

namespace mrc::profile {

bool enabled();
void set_enabled(bool on);

struct Entry {
  std::string name;
  double ms = 0;
  long calls = 0;
};
// Entries in the order their names were first seen; reset() empties the table.
std::vector<Entry> entries();
void reset();
void add(const std::string& name, double ms);

// The innermost open scope's name on this thread (nullptr outside any scope or when disabled).
const char* current_stage();

// Times its lifetime, less nested scopes, under `name` (a string literal or otherwise static) when profiling is enabled.
class Scope {
 public:
  explicit Scope(const char* name);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
  const char* name() const { return name_; }

 private:
  const char* name_ = nullptr;
  Scope* outer_ = nullptr;
  double start_ = 0, nested_ms_ = 0;
};

// A table "stage  ms/call  calls  share" of the entries, each divided by `runs` (e.g. timed repetitions).
std::string report(int runs = 1);

// Prints report() to stderr when it goes out of scope, if profiling is on then (the apps' --profile).
struct PrintAtExit {
  PrintAtExit() = default;
  PrintAtExit(const PrintAtExit&) = delete;
  PrintAtExit& operator=(const PrintAtExit&) = delete;
  ~PrintAtExit();
};

}  // namespace mrc::profile

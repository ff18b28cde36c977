// Helpers for the apps' long-running jobs: a text progress bar (count, bar, rate per second and
// ETA on stderr, redrawn in place at most a few times a second; thread-safe), and StagedDir, an
// output folder that appears whole or not at all.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace mrc::data {

class ProgressBar {
 public:
  // total 0: unknown (no bar, no ETA). out nullptr: silent (tests, --quiet).
  ProgressBar(int64_t total, std::string label, std::FILE* out = stderr);
  ~ProgressBar();   // finish() if not called
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(int64_t n = 1);    // n more items done
  void set_status(std::string status);  // shown after the rate (e.g. running losses), from the next redraw on
  void set(int64_t done);        // absolute count
  void finish();                 // final line with the total time and mean rate, then a newline

  int64_t done() const;
  // The line as it would be printed now (for tests and logs), without the carriage return.
  std::string render() const;

  // "12.3 s", "4 min 05 s", "1 h 02 min"
  static std::string format_duration(double seconds);

 private:
  using Clock = std::chrono::steady_clock;
  std::string render_locked(double elapsed) const;
  void draw_locked(bool force);

  int64_t total_;
  std::string label_, status_;
  std::FILE* out_;
  int64_t done_ = 0;
  Clock::time_point start_, last_draw_;
  bool finished_ = false;
  bool drawn_ = false;
  mutable std::mutex mu_;
};

// Output folder written under "<final>.tmp.<pid>" and renamed into place by commit(); destroyed
// without commit() (an error, an exception) it removes the temporary folder. The final folder must
// not exist, unless overwrite (then the old one is replaced only at commit()).
class StagedDir {
 public:
  StagedDir(std::string final_path, bool overwrite = false);   // throws std::runtime_error
  ~StagedDir();
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;

  const std::string& path() const { return tmp_; }            // where to write now
  const std::string& final_path() const { return final_; }
  std::string file(const std::string& name) const { return tmp_ + "/" + name; }
  void commit();

 private:
  std::string final_, tmp_;
  bool overwrite_, committed_ = false;
};

}  // namespace mrc::data

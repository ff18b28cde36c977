// ProgressBar (see progress.h).
#include "data/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

namespace mrc::data {

namespace {
constexpr double kRedrawSeconds = 0.2;
constexpr double kLogSeconds = 5.0;
constexpr int kBarWidth = 28;
}  // namespace

ProgressBar::ProgressBar(int64_t total, std::string label, std::FILE* out)
    : total_(std::max<int64_t>(total, 0)), label_(std::move(label)), out_(out) {
  start_ = last_draw_ = Clock::now();
}

ProgressBar::~ProgressBar() { finish(); }

std::string ProgressBar::format_duration(double s) {
  char buf[64];
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  } else if (s < 3600) {
    const int t = int(s + 0.5);
    std::snprintf(buf, sizeof buf, "%d min %02d s", t / 60, t % 60);
  } else {
    const int t = int(s / 60 + 0.5);
    std::snprintf(buf, sizeof buf, "%d h %02d min", t / 60, t % 60);
  }
  return buf;
}

std::string ProgressBar::render_locked(double elapsed) const {
  std::string line = label_.empty() ? std::string() : label_ + " ";
  char buf[160];
  const double rate = elapsed > 0 ? double(done_) / elapsed : 0.0;
  if (total_ > 0) {
    const double frac = std::min(1.0, double(done_) / double(total_));
    const int filled = int(frac * kBarWidth);
    line += '[';
    line.append(size_t(filled), '#');
    line.append(size_t(kBarWidth - filled), '.');
    line += ']';
    std::snprintf(buf, sizeof buf, " %lld/%lld (%3.0f%%)", (long long)done_, (long long)total_, frac * 100.0);
    line += buf;
  } else {
    std::snprintf(buf, sizeof buf, "%lld", (long long)done_);
    line += buf;
  }
  if (finished_) {
    std::snprintf(buf, sizeof buf, "  %.1f/s, %s", rate, format_duration(elapsed).c_str());
  } else if (total_ > 0 && done_ > 0 && done_ < total_) {
    const double eta = double(total_ - done_) / rate;
    std::snprintf(buf, sizeof buf, "  %.1f/s, ETA %s", rate, format_duration(eta).c_str());
  } else {
    std::snprintf(buf, sizeof buf, "  %.1f/s", rate);
  }
  line += buf;
  if (!status_.empty()) line += "  " + status_;
  return line;
}

void ProgressBar::set_status(std::string status) {
  std::lock_guard<std::mutex> lock(mu_);
  status_ = std::move(status);
}

void ProgressBar::draw_locked(bool force) {
  if (!out_) return;
  const auto now = Clock::now();
  // A terminal gets the line redrawn in place; a log file a new line every few seconds.
  const bool tty = ::isatty(::fileno(out_)) != 0;
  const double every = tty ? kRedrawSeconds : kLogSeconds;
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (!force && (tty ? drawn_ : true) && since < every) return;
  last_draw_ = now;
  drawn_ = true;
  const std::string line = render_locked(std::chrono::duration<double>(now - start_).count());
  if (tty)
    std::fprintf(out_, "\r%-150s", line.c_str());  // padded to cover a longer previous line
  else
    std::fprintf(out_, "%s%s", line.c_str(), finished_ ? "" : "\n");
  std::fflush(out_);
}

void ProgressBar::update(int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  done_ += n;
  draw_locked(false);
}

void ProgressBar::set(int64_t done) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  done_ = done;
  draw_locked(false);
}

void ProgressBar::finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  draw_locked(true);
  if (out_) std::fputc('\n', out_);
}

int64_t ProgressBar::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

std::string ProgressBar::render() const {
  std::lock_guard<std::mutex> lock(mu_);
  return render_locked(std::chrono::duration<double>(Clock::now() - start_).count());
}

namespace fs = std::filesystem;

StagedDir::StagedDir(std::string final_path, bool overwrite) : final_(std::move(final_path)), overwrite_(overwrite) {
  while (final_.size() > 1 && final_.back() == '/') final_.pop_back();
  if (final_.empty()) throw std::runtime_error("output folder: empty path");
  std::error_code ec;
  if (fs::exists(final_, ec) && !overwrite_)
    throw std::runtime_error(final_ + ": output folder already exists (remove it or choose another)");
  const fs::path parent = fs::absolute(final_, ec).parent_path();
  if (!fs::is_directory(parent, ec))
    throw std::runtime_error(final_ + ": parent folder " + parent.string() + " does not exist");
  tmp_ = final_ + ".tmp." + std::to_string(::getpid());
  fs::remove_all(tmp_, ec);
  if (!fs::create_directory(tmp_, ec) || ec)
    throw std::runtime_error(tmp_ + ": cannot create folder: " + (ec ? ec.message() : std::string("unknown error")));
}

StagedDir::~StagedDir() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(tmp_, ec);
}

void StagedDir::commit() {
  if (committed_) return;
  std::error_code ec;
  std::string old;
  if (fs::exists(final_, ec)) {
    if (!overwrite_) throw std::runtime_error(final_ + ": output folder appeared while writing; not replaced");
    old = final_ + ".old." + std::to_string(::getpid());
    fs::rename(final_, old, ec);
    if (ec) throw std::runtime_error(final_ + ": cannot move the old folder aside: " + ec.message());
  }
  fs::rename(tmp_, final_, ec);
  if (ec) {
    const std::string why = ec.message();
    if (!old.empty()) fs::rename(old, final_, ec);
    throw std::runtime_error(final_ + ": cannot rename " + tmp_ + " into place: " + why);
  }
  committed_ = true;
  if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace mrc::data

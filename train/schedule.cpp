// Parsing and walking training schedules (see schedule.h).
#include "train/schedule.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "models/maskrcnn/maskrcnn.h"

namespace mrc::train {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) parts.push_back(cur);
  if (!s.empty() && s.back() == sep) parts.emplace_back();
  return parts;
}

double parse_number(const std::string& s, const std::string& where) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty() || !std::isfinite(v))
    throw std::invalid_argument(where + ": expected a number, got \"" + s + "\"");
  return v;
}

double parse_lr(const std::string& s, double base_lr, const std::string& where) {
  double lr = 0;
  if (s == "LR") {
    lr = base_lr;
  } else if (s.rfind("LR/", 0) == 0) {
    const double div = parse_number(s.substr(3), where + " (divisor of LR)");
    if (div <= 0) throw std::invalid_argument(where + ": the divisor of LR must be positive, got \"" + s + "\"");
    lr = base_lr / div;
  } else {
    lr = parse_number(s, where);
  }
  if (!(lr > 0)) throw std::invalid_argument(where + ": the learning rate must be positive, got \"" + s + "\"");
  return lr;
}

}  // namespace

std::vector<Phase> parse_schedule(const std::string& text, double base_lr) {
  if (text == "study") return parse_schedule(kStudySchedule, base_lr);
  if (text.empty()) throw std::invalid_argument("schedule: empty; expected GROUP:EPOCHS:LR[,GROUP:EPOCHS:LR...]");
  std::vector<Phase> phases;
  int64_t ended = 0;  // the epoch (over the whole run) the phases so far end at
  const std::vector<std::string> items = split(text, ',');
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string where = "schedule phase " + std::to_string(i + 1) + " \"" + items[i] + "\"";
    const std::vector<std::string> f = split(items[i], ':');
    if (f.size() != 3) throw std::invalid_argument(where + ": expected GROUP:EPOCHS:LR, e.g. heads:2:LR/10");
    Phase p;
    p.layers = f[0];
    try {
      maskrcnn::MaskRCNN::layer_group_regex(p.layers);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(where + ": " + e.what());
    }
    const bool until = !f[1].empty() && f[1][0] == '@';  // matterport's cumulative count
    const double epochs = parse_number(until ? f[1].substr(1) : f[1], where + " (epochs)");
    if (epochs < 1 || epochs != std::floor(epochs))
      throw std::invalid_argument(where + ": epochs must be a positive integer (or @N, the epoch the phase ends at), got \"" +
                                  f[1] + "\"");
    p.epochs = until ? int64_t(epochs) - ended : int64_t(epochs);
    if (p.epochs < 1)
      throw std::invalid_argument(where + ": ends at epoch " + f[1].substr(1) + " but the phases before it already end at epoch " +
                                  std::to_string(ended) + " (@N counts epochs over the whole run, as matterport does)");
    ended += p.epochs;
    p.lr = parse_lr(f[2], base_lr, where + " (learning rate)");
    phases.push_back(p);
  }
  return phases;
}

std::string schedule_to_string(const std::vector<Phase>& phases) {
  std::ostringstream out;
  for (size_t i = 0; i < phases.size(); ++i)
    out << (i ? "," : "") << phases[i].layers << ':' << phases[i].epochs << ':' << phases[i].lr;
  return out.str();
}

std::vector<Phase> study_schedule(double base_lr, int64_t epochs_per_phase) {
  return {{"heads", epochs_per_phase, base_lr / 10}, {"heads", epochs_per_phase, base_lr / 100},
          {"all", epochs_per_phase, base_lr / 100}};
}

std::string schedule_syntax() {
  return "phases GROUP:EPOCHS:LR,... trained in order. GROUP: heads | 3+ | 4+ | 5+ | all (the layers trained). "
         "EPOCHS: a count, or @N = until epoch N of the whole run (matterport's cumulative epochs: "
         "heads:@120:LR/10,heads:@180:LR/100,all:@210:LR/100 = 120 + 60 + 30 epochs). LR: a number, LR, or LR/k "
         "(LR = LEARNING_RATE). \"study\" = " + std::string(kStudySchedule) +
         ". Default: the study's three phases, --epochs-per-phase epochs each (1).";
}

SchedulePosition locate_epoch(const std::vector<Phase>& phases, int64_t epoch) {
  SchedulePosition pos;
  for (; pos.phase < phases.size(); ++pos.phase) {
    if (epoch < phases[pos.phase].epochs) {
      pos.epoch_in_phase = epoch;
      return pos;
    }
    epoch -= phases[pos.phase].epochs;
  }
  pos.epoch_in_phase = epoch;
  return pos;
}

int64_t total_epochs(const std::vector<Phase>& phases) {
  int64_t n = 0;
  for (const Phase& p : phases) n += p.epochs;
  return n;
}

}  // namespace mrc::train

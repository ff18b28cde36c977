// LR schedules (see lr_schedule.h). Closed forms of torch's schedulers; the tests compare them with
// torch's own step-by-step values.
#include "optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <sstream>
#include <stdexcept>

namespace mrc {

namespace {
std::string list_str(const std::vector<int64_t>& v) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  s << "]";
  return s.str();
}
std::string num(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}
}  // namespace

LrSchedule LrSchedule::constant(double factor, int64_t total_iters) {
  if (!(factor >= 0)) throw std::invalid_argument("LrSchedule::constant: factor must be >= 0, got " + num(factor));
  if (total_iters < 0) throw std::invalid_argument("LrSchedule::constant: total_iters must be >= 0");
  return LrSchedule([=](double base, int64_t t) { return t < total_iters ? base * factor : base; },
                    factor == 1 || total_iters == 0 ? "constant"
                                                    : "constant(factor=" + num(factor) + ", total_iters=" +
                                                          std::to_string(total_iters) + ")");
}

LrSchedule LrSchedule::multistep(std::vector<int64_t> milestones, double gamma) {
  if (!std::is_sorted(milestones.begin(), milestones.end()))
    throw std::invalid_argument("LrSchedule::multistep: milestones must be increasing, got " + list_str(milestones));
  const std::string d = "multistep(milestones=" + list_str(milestones) + ", gamma=" + num(gamma) + ")";
  return LrSchedule(
      [milestones = std::move(milestones), gamma](double base, int64_t t) {
        // Milestones reached so far (a repeated milestone counts twice, as torch's Counter does).
        const auto k = std::upper_bound(milestones.begin(), milestones.end(), t) - milestones.begin();
        return base * std::pow(gamma, double(k));
      },
      d);
}

LrSchedule LrSchedule::linear_warmup(double start_factor, int64_t iters) {
  if (!(start_factor > 0 && start_factor <= 1))
    throw std::invalid_argument("LrSchedule::linear_warmup: start_factor must be in (0, 1], got " + num(start_factor));
  if (iters <= 0) throw std::invalid_argument("LrSchedule::linear_warmup: iters must be > 0, got " + std::to_string(iters));
  return LrSchedule(
      [=](double base, int64_t t) {
        const double a = double(std::min(t, iters)) / double(iters);
        return base * (start_factor + (1 - start_factor) * a);
      },
      "linear_warmup(start_factor=" + num(start_factor) + ", iters=" + std::to_string(iters) + ")");
}

LrSchedule LrSchedule::cosine(int64_t t_max, double eta_min) {
  if (t_max <= 0) throw std::invalid_argument("LrSchedule::cosine: T_max must be > 0, got " + std::to_string(t_max));
  return LrSchedule(
      [=](double base, int64_t t) {
        return eta_min + (base - eta_min) * (1 + std::cos(std::numbers::pi * double(t) / double(t_max))) / 2;
      },
      "cosine(T_max=" + std::to_string(t_max) + ", eta_min=" + num(eta_min) + ")");
}

LrSchedule LrSchedule::chain(std::vector<LrSchedule> schedules) {
  if (schedules.empty()) throw std::invalid_argument("LrSchedule::chain: no schedules");
  std::string d = "chain(";
  for (size_t i = 0; i < schedules.size(); ++i) d += (i ? ", " : "") + schedules[i].description();
  d += ")";
  return LrSchedule(
      [schedules = std::move(schedules)](double base, int64_t t) {
        double lr = base;
        for (const auto& s : schedules) lr = s.lr(lr, t);
        return lr;
      },
      d);
}

LrSchedule LrSchedule::sequential(std::vector<LrSchedule> schedules, std::vector<int64_t> milestones) {
  if (schedules.empty() || milestones.size() + 1 != schedules.size())
    throw std::invalid_argument("LrSchedule::sequential: " + std::to_string(schedules.size()) + " schedules need " +
                                std::to_string(schedules.empty() ? 0 : schedules.size() - 1) + " milestones, got " +
                                std::to_string(milestones.size()));
  if (!std::is_sorted(milestones.begin(), milestones.end()) || (!milestones.empty() && milestones.front() < 0))
    throw std::invalid_argument("LrSchedule::sequential: milestones must be increasing and >= 0, got " + list_str(milestones));
  std::string d = "sequential(";
  for (size_t i = 0; i < schedules.size(); ++i)
    d += (i ? ", at " + std::to_string(milestones[i - 1]) + ": " : "") + schedules[i].description();
  d += ")";
  return LrSchedule(
      [schedules = std::move(schedules), milestones = std::move(milestones)](double base, int64_t t) {
        const size_t i = size_t(std::upper_bound(milestones.begin(), milestones.end(), t) - milestones.begin());
        return schedules[i].lr(base, i == 0 ? t : t - milestones[i - 1]);
      },
      d);
}

LrSchedule LrSchedule::warmup_multistep(double warmup_factor, int64_t warmup_iters, std::vector<int64_t> milestones,
                                        double gamma) {
  return chain({linear_warmup(warmup_factor, warmup_iters), multistep(std::move(milestones), gamma)});
}

double LrSchedule::lr(double base_lr, int64_t step) const {
  if (step < 0) throw std::invalid_argument("LrSchedule(" + description_ + "): step must be >= 0, got " + std::to_string(step));
  return fn_(base_lr, step);
}

void LrSchedule::apply(Optimizer& optimizer, int64_t step) const {
  for (auto& g : optimizer.param_groups()) g.lr = lr(g.initial_lr, step);
}

}  // namespace mrc

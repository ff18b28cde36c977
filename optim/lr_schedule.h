// Learning-rate schedules as pure functions lr(base_lr, step), matching torch.optim.lr_scheduler's
// values after `step` calls of scheduler.step() (step 0 = right after construction):
//   constant     ConstantLR(factor, total_iters); factor 1 is a plain constant
//   multistep    MultiStepLR(milestones, gamma)
//   linear_warmup LinearLR(start_factor, 1.0, iters) = torchvision detection reference's warm-up
//   cosine       CosineAnnealingLR(T_max, eta_min), closed form
//   chain        ChainedScheduler: each schedule applied to the previous one's lr (for the
//                multiplicative ones, the product of their factors: warm-up x multistep)
//   sequential   SequentialLR: schedule i runs from milestone i-1, counting its steps from there
// apply(optimizer, step) sets every group's lr from its initial_lr.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace mrc {

class LrSchedule {
 public:
  using Fn = std::function<double(double base_lr, int64_t step)>;

  LrSchedule() : LrSchedule(constant()) {}
  LrSchedule(Fn fn, std::string description) : fn_(std::move(fn)), description_(std::move(description)) {}

  static LrSchedule constant(double factor = 1.0, int64_t total_iters = 0);
  static LrSchedule multistep(std::vector<int64_t> milestones, double gamma = 0.1);
  static LrSchedule linear_warmup(double start_factor, int64_t iters);
  static LrSchedule cosine(int64_t t_max, double eta_min = 0);
  static LrSchedule chain(std::vector<LrSchedule> schedules);
  static LrSchedule sequential(std::vector<LrSchedule> schedules, std::vector<int64_t> milestones);
  // The detection recipe: linear warm-up chained with multistep decay.
  static LrSchedule warmup_multistep(double warmup_factor, int64_t warmup_iters, std::vector<int64_t> milestones,
                                     double gamma = 0.1);

  double lr(double base_lr, int64_t step) const;  // throws std::invalid_argument for step < 0
  double operator()(double base_lr, int64_t step) const { return lr(base_lr, step); }
  void apply(Optimizer& optimizer, int64_t step) const;
  const std::string& description() const { return description_; }

 private:
  Fn fn_;
  std::string description_;
};

}  // namespace mrc

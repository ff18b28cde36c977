// Adam and AdamW as torch.optim.Adam / AdamW: bias-corrected moments, eps added after the bias-corrected
// square root, optional AMSGrad. Adam adds weight_decay * param to the gradient; AdamW decays the
// parameter itself (param *= 1 - lr * weight_decay) before the update. Each parameter counts its own
// steps (state slot "step"), so a parameter that skipped steps is bias-corrected as torch does.
#pragma once
#include "optim/optimizer.h"

namespace mrc {

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool amsgrad = false;
};

class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<ParamGroup> groups) : Adam("Adam", std::move(groups)) {}
  Adam(NamedTensors params, const AdamOptions& options)
      : Adam(std::vector<ParamGroup>{group(std::move(params), options)}) {}

  static ParamGroup group(NamedTensors params, const AdamOptions& options, std::string name = "");

 protected:
  Adam(std::string type, std::vector<ParamGroup> groups);
  void update(const ParamGroup& g, const Tensor& param, const Tensor& grad, SlotMap& state) override;
  void validate(const ParamGroup& g) const override;
  // With kernels::set_multi_tensor_optim on and every parameter with a gradient a contiguous float32
  // tensor of one device: one pass over all of them (the CUDA kernel, or its CPU twin on the CPU).
  bool update_group(const ParamGroup& g, std::map<std::string, SlotMap>& state) override;
  std::vector<std::pair<std::string, bool>> slots() const override {
    return {{"step", false}, {"exp_avg", true}, {"exp_avg_sq", true}, {"max_exp_avg_sq", true}};
  }
  virtual bool decoupled_weight_decay() const { return false; }
};

class AdamW : public Adam {
 public:
  // AdamW's usual default weight decay is 1e-2 (torch): pass it in the options or the groups.
  explicit AdamW(std::vector<ParamGroup> groups) : Adam("AdamW", std::move(groups)) {}
  AdamW(NamedTensors params, const AdamOptions& options)
      : AdamW(std::vector<ParamGroup>{group(std::move(params), options)}) {}

 protected:
  bool decoupled_weight_decay() const override { return true; }
};

}  // namespace mrc

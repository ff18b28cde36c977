// SGD with momentum, dampening, Nesterov momentum and (coupled) weight decay, as torch.optim.SGD:
// the first step's momentum buffer is the gradient itself.
#pragma once
#include "optim/optimizer.h"

namespace mrc {

struct SGDOptions {
  double lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  // Groups carry their own hyper-parameters.
  explicit SGD(std::vector<ParamGroup> groups);
  // One group "0" with these options.
  SGD(NamedTensors params, const SGDOptions& options);

  static ParamGroup group(NamedTensors params, const SGDOptions& options, std::string name = "");

 protected:
  void update(const ParamGroup& g, const Tensor& param, const Tensor& grad, SlotMap& state) override;
  void validate(const ParamGroup& g) const override;
  // The multi-tensor CUDA kernel (kernels/multi_tensor) when switched on and every parameter with a
  // gradient is a contiguous float32 tensor of one CUDA device.
  bool update_group(const ParamGroup& g, std::map<std::string, SlotMap>& state) override;
  std::vector<std::pair<std::string, bool>> slots() const override { return {{"momentum_buffer", true}}; }
};

}  // namespace mrc

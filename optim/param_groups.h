// Splitting named parameters into a weight-decay group and a no-decay group (norm weights and biases
// get no weight decay, as torchvision's reference scripts do with norm_weight_decay=0).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace mrc {

using ParamPredicate = std::function<bool(const std::string& name, const Tensor& param)>;

struct DecaySplitOptions {
  // Caller's rule, e.g. "belongs to a BatchNorm/GroupNorm module" (the Module knows its children's types).
  ParamPredicate no_decay;
  bool no_decay_1d = true;     // default rule: parameters with dim() <= 1 (biases, norm scales)
  bool no_decay_bias = true;   // names ending in ".bias" (or equal to "bias")
  bool skip_frozen = true;     // leave out parameters with requires_grad == false
  double no_decay_weight_decay = 0;  // weight decay of the no-decay group
};

// The default rule alone: 1-D (or 0-D) parameter, or a name ending in ".bias".
bool default_no_decay(const std::string& name, const Tensor& param);

// Returns up to two groups copying `hyper`'s hyper-parameters: "decay" (weight_decay from `hyper`) and
// "no_decay" (options.no_decay_weight_decay); empty groups are left out. Parameters keep their order.
std::vector<ParamGroup> split_weight_decay(const NamedTensors& params, const ParamGroup& hyper,
                                           const DecaySplitOptions& options = {});

}  // namespace mrc

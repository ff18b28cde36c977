// Decay / no-decay parameter groups (see param_groups.h).
#include "optim/param_groups.h"

namespace mrc {

namespace {
bool is_bias_name(const std::string& name) {
  static const std::string suffix = ".bias";
  return name == "bias" || (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0);
}
}  // namespace

bool default_no_decay(const std::string& name, const Tensor& param) { return param.dim() <= 1 || is_bias_name(name); }

std::vector<ParamGroup> split_weight_decay(const NamedTensors& params, const ParamGroup& hyper, const DecaySplitOptions& o) {
  NamedTensors decay, no_decay;
  for (const auto& nt : params) {
    const auto& [name, p] = nt;
    if (o.skip_frozen && !p.requires_grad()) continue;
    const bool nd = (o.no_decay && o.no_decay(name, p)) || (o.no_decay_1d && p.dim() <= 1) ||
                    (o.no_decay_bias && is_bias_name(name));
    (nd ? no_decay : decay).push_back(nt);
  }
  std::vector<ParamGroup> out;
  if (!decay.empty()) out.push_back(hyper.with_params(std::move(decay), "decay"));
  if (!no_decay.empty()) {
    out.push_back(hyper.with_params(std::move(no_decay), "no_decay"));
    out.back().weight_decay = o.no_decay_weight_decay;
  }
  return out;
}

}  // namespace mrc

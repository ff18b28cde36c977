// The optimizer base: parameter groups (named parameters + hyper-parameters), step / zero_grad, the
// per-parameter state (momentum buffers, moments) and its state dict for checkpoints.
//
// Parameters are (name, Tensor) pairs so state is keyed by a stable name rather than by identity;
// names must be unique across the optimizer. State tensors live on their parameter's device.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace mrc {

using NamedTensor = std::pair<std::string, Tensor>;
using NamedTensors = std::vector<NamedTensor>;

// One parameter group: the parameters and the hyper-parameters applied to them. Each optimizer reads
// the fields it knows (SGD: lr, weight_decay, momentum, dampening, nesterov; Adam/AdamW: lr,
// weight_decay, beta1, beta2, eps, amsgrad).
struct ParamGroup {
  std::string name;         // key of the group in the state dict; set to its index when empty; no '.'
  NamedTensors params;
  double lr = 1e-3;
  double initial_lr = -1;   // the lr schedules scale; set to lr by the optimizer when negative
  double weight_decay = 0;
  double momentum = 0, dampening = 0;
  bool nesterov = false;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool amsgrad = false;

  // The same hyper-parameters with other parameters.
  ParamGroup with_params(NamedTensors p, std::string group_name = "") const;
};

// An optimizer's serializable state: tensors keyed "<group>.<param name>.<slot>" (slots such as
// "momentum_buffer", "exp_avg", "step") and a JSON object with the type, the step count and every
// group's hyper-parameters and parameter names.
struct OptimizerState {
  std::map<std::string, Tensor> tensors;
  nlohmann::json hyper;
};

class Optimizer {
 public:
  using SlotMap = std::map<std::string, Tensor>;

  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Updates every parameter that has a gradient (in place, in a no-grad scope), then counts the step.
  void step();
  // Drops the gradients (as torch's set_to_none=True).
  void zero_grad();

  const std::string& type() const { return type_; }
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  int64_t step_count() const { return step_count_; }
  void set_lr(double lr);  // every group
  NamedTensors parameters() const;  // all groups, in order
  void add_param_group(ParamGroup g);  // validated like the constructor's groups

  // State of one parameter (empty until its first update).
  const SlotMap& state(const std::string& param_name) const;

  OptimizerState state_dict() const;
  // Restores hyper-parameters, step count and state. The type, group names and parameter names must
  // match; state tensors must have the shape their slot expects. Parameters without saved state start
  // fresh. Throws std::runtime_error listing every mismatch.
  void load_state_dict(const OptimizerState& state);

 protected:
  Optimizer(std::string type, std::vector<ParamGroup> groups);

  // One parameter's update; grad has the parameter's shape, dtype and device.
  virtual void update(const ParamGroup& g, const Tensor& param, const Tensor& grad, SlotMap& state) = 0;
  // A whole group at once (multi-tensor kernels), with the state by parameter name; false leaves the group
  // to update() parameter by parameter.
  virtual bool update_group(const ParamGroup&, std::map<std::string, SlotMap>&) { return false; }
  // Throws std::invalid_argument when a group's hyper-parameters are out of range.
  virtual void validate(const ParamGroup& g) const;
  // Every group through the subclass's validate: subclass constructors call it, as virtual calls do not
  // dispatch from the base constructor.
  void validate_groups() const {
    for (const auto& g : groups_) validate(g);
  }
  // "<type> group '<name>': ", the start of a hyper-parameter error.
  std::string group_context(const ParamGroup& g) const { return type_ + " group '" + g.name + "': "; }
  // A group with the hyper-parameters every optimizer reads; subclasses' group() add their own.
  static ParamGroup make_group(NamedTensors params, double lr, double weight_decay, std::string name);
  // The slots this optimizer may keep, and whether the slot has the parameter's shape (else a scalar).
  virtual std::vector<std::pair<std::string, bool>> slots() const = 0;

 private:
  std::string type_;
  std::vector<ParamGroup> groups_;
  std::map<std::string, SlotMap> state_;  // by parameter name
  int64_t step_count_ = 0;
};

}  // namespace mrc

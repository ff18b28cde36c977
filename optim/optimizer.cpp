// Optimizer base: group bookkeeping, the step loop and the state dict (see optimizer.h).
#include "optim/optimizer.h"

#include <set>
#include <stdexcept>

#include "tensor/autograd.h"

namespace mrc {

namespace {

std::string join(const std::vector<std::string>& v, size_t limit = 50) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < limit; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > limit) s += ", ... (" + std::to_string(v.size() - limit) + " more)";
  return s;
}

nlohmann::json group_json(const ParamGroup& g) {
  nlohmann::json names = nlohmann::json::array();
  for (const auto& [n, t] : g.params) names.push_back(n);
  return {{"name", g.name},         {"lr", g.lr},
          {"initial_lr", g.initial_lr}, {"weight_decay", g.weight_decay},
          {"momentum", g.momentum}, {"dampening", g.dampening},
          {"nesterov", g.nesterov}, {"beta1", g.beta1},
          {"beta2", g.beta2},       {"eps", g.eps},
          {"amsgrad", g.amsgrad},   {"params", names}};
}

template <class T>
void read_field(const nlohmann::json& j, const char* key, T& out, const std::string& where) {
  if (!j.contains(key)) return;  // fields added later keep the current value
  try {
    out = j.at(key).get<T>();
  } catch (const std::exception&) {
    throw std::runtime_error(where + ": field '" + key + "' has the wrong type");
  }
}

}  // namespace

ParamGroup ParamGroup::with_params(NamedTensors p, std::string group_name) const {
  ParamGroup g = *this;
  g.params = std::move(p);
  g.name = std::move(group_name);
  return g;
}

Optimizer::Optimizer(std::string type, std::vector<ParamGroup> groups) : type_(std::move(type)) {
  if (groups.empty()) throw std::invalid_argument(type_ + ": no parameter groups given");
  // Subclasses validate hyper-parameters in their constructors (virtual calls do not dispatch here).
  for (auto& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup g) {
  if (g.name.empty()) g.name = std::to_string(groups_.size());
  if (g.name.find('.') != std::string::npos)
    throw std::invalid_argument(type_ + ": group name '" + g.name + "' must not contain '.'");
  std::set<std::string> names;
  std::set<const TensorImpl*> impls;
  for (const auto& og : groups_) {
    if (og.name == g.name) throw std::invalid_argument(type_ + ": two parameter groups are named '" + g.name + "'");
    for (const auto& [n, t] : og.params) names.insert(n), impls.insert(t.impl_ptr());
  }
  for (const auto& [n, t] : g.params) {
    const std::string where = type_ + ": parameter '" + n + "' of group '" + g.name + "'";
    if (n.empty()) throw std::invalid_argument(type_ + ": a parameter of group '" + g.name + "' has no name");
    if (!t.defined()) throw std::invalid_argument(where + " is undefined");
    if (!t.is_floating_point()) throw std::invalid_argument(where + " is " + t.str() + ", expected a floating-point tensor");
    if (!t.is_leaf()) throw std::invalid_argument(where + " is not a leaf tensor (it has autograd history)");
    if (!names.insert(n).second) throw std::invalid_argument(where + ": the name appears twice");
    if (!impls.insert(t.impl_ptr()).second) throw std::invalid_argument(where + ": the tensor appears twice");
  }
  if (g.initial_lr < 0) g.initial_lr = g.lr;
  groups_.push_back(std::move(g));
}

ParamGroup Optimizer::make_group(NamedTensors params, double lr, double weight_decay, std::string name) {
  ParamGroup g;
  g.name = std::move(name);
  g.params = std::move(params);
  g.lr = lr;
  g.weight_decay = weight_decay;
  return g;
}

void Optimizer::validate(const ParamGroup& g) const {
  const std::string where = group_context(g);
  if (!(g.lr >= 0)) throw std::invalid_argument(where + "lr must be >= 0, got " + std::to_string(g.lr));
  if (!(g.weight_decay >= 0))
    throw std::invalid_argument(where + "weight_decay must be >= 0, got " + std::to_string(g.weight_decay));
}

void Optimizer::step() {
  NoGradGuard no_grad;
  for (const auto& g : groups_) {
    validate(g);  // hyper-parameters may have been edited since construction
    if (update_group(g, state_)) continue;
    for (const auto& [name, p] : g.params) {
      const Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (grad.shape() != p.shape() || grad.dtype() != p.dtype() || grad.device() != p.device())
        throw std::runtime_error(type_ + ".step: gradient of '" + name + "' is " + grad.str() + ", parameter is " + p.str());
      update(g, p, grad, state_[name]);
    }
  }
  ++step_count_;
}

void Optimizer::zero_grad() {
  for (const auto& g : groups_)
    for (const auto& [n, p] : g.params) p.zero_grad();
}

void Optimizer::set_lr(double lr) {
  for (auto& g : groups_) g.lr = lr;
}

NamedTensors Optimizer::parameters() const {
  NamedTensors out;
  for (const auto& g : groups_) out.insert(out.end(), g.params.begin(), g.params.end());
  return out;
}

const Optimizer::SlotMap& Optimizer::state(const std::string& param_name) const {
  static const SlotMap empty;
  auto it = state_.find(param_name);
  return it == state_.end() ? empty : it->second;
}

OptimizerState Optimizer::state_dict() const {
  OptimizerState s;
  s.hyper = {{"type", type_}, {"step", step_count_}, {"groups", nlohmann::json::array()}};
  for (const auto& g : groups_) {
    s.hyper["groups"].push_back(group_json(g));
    for (const auto& [n, p] : g.params) {
      auto it = state_.find(n);
      if (it == state_.end()) continue;
      for (const auto& [slot, t] : it->second) s.tensors[g.name + "." + n + "." + slot] = t;
    }
  }
  return s;
}

void Optimizer::load_state_dict(const OptimizerState& s) {
  const std::string where = type_ + ".load_state_dict";
  const auto& h = s.hyper;
  if (!h.is_object() || !h.contains("type") || !h.contains("groups") || !h["groups"].is_array())
    throw std::runtime_error(where + ": the state has no 'type' and 'groups' (not an optimizer state)");
  if (h["type"] != type_)
    throw std::runtime_error(where + ": the state is of a " + h["type"].dump() + " optimizer, this is " + type_);
  const auto& gj = h["groups"];
  std::vector<std::string> problems;
  if (gj.size() != groups_.size())
    problems.push_back("the state has " + std::to_string(gj.size()) + " parameter groups, the optimizer " +
                       std::to_string(groups_.size()));
  // key prefix "<group>.<param>." -> (param name, param tensor)
  std::map<std::string, std::pair<std::string, Tensor>> prefixes;
  for (size_t i = 0; i < groups_.size() && i < gj.size(); ++i) {
    const ParamGroup& g = groups_[i];
    std::string gname;
    std::vector<std::string> saved;
    read_field(gj[i], "name", gname, where);
    read_field(gj[i], "params", saved, where);
    if (gname != g.name) problems.push_back("group " + std::to_string(i) + " is named '" + gname + "' in the state, '" + g.name + "' here");
    std::set<std::string> ours, theirs(saved.begin(), saved.end());
    for (const auto& [n, p] : g.params) ours.insert(n);
    std::vector<std::string> missing, unexpected;
    for (const auto& n : ours)
      if (!theirs.count(n)) missing.push_back(n);
    for (const auto& n : theirs)
      if (!ours.count(n)) unexpected.push_back(n);
    if (!missing.empty())
      problems.push_back("group '" + g.name + "': parameters not in the state: " + join(missing));
    if (!unexpected.empty())
      problems.push_back("group '" + g.name + "': state parameters not in the optimizer: " + join(unexpected));
    for (const auto& [n, p] : g.params) prefixes[g.name + "." + n + "."] = {n, p};
  }
  std::map<std::string, bool> slot_shaped;
  for (const auto& [slot, shaped] : slots()) slot_shaped[slot] = shaped;
  std::vector<std::string> unknown, bad_shape;
  std::map<std::string, SlotMap> new_state;
  for (const auto& [key, t] : s.tensors) {
    const size_t dot = key.rfind('.');
    const std::string slot = dot == std::string::npos ? key : key.substr(dot + 1);
    auto pit = dot == std::string::npos ? prefixes.end() : prefixes.find(key.substr(0, dot + 1));
    auto sit = slot_shaped.find(slot);
    if (pit == prefixes.end() || sit == slot_shaped.end()) {
      unknown.push_back(key);
      continue;
    }
    const Tensor& p = pit->second.second;
    const Shape want = sit->second ? p.shape() : Shape{};
    if (t.shape() != want) {
      bad_shape.push_back(key + " (state " + shape_str(t.shape()) + ", expected " + shape_str(want) + ")");
      continue;
    }
    // Shaped slots follow the parameter's dtype and device; scalar counters stay float64 on the host.
    new_state[pit->second.first][slot] = sit->second ? t.detach().to(p.device(), p.dtype()).clone()
                                                     : t.detach().to(Device::cpu(), DType::Float64).clone();
  }
  if (!unknown.empty()) problems.push_back("unexpected state entries: " + join(unknown));
  if (!bad_shape.empty()) problems.push_back("state entries of the wrong shape: " + join(bad_shape));
  if (!problems.empty()) {
    std::string msg = where + ": the state does not match the optimizer:";
    for (const auto& p : problems) msg += "\n  " + p;
    throw std::runtime_error(msg);
  }
  // Everything matched: commit hyper-parameters, step count and state.
  for (size_t i = 0; i < groups_.size(); ++i) {
    ParamGroup& g = groups_[i];
    const auto& j = gj[i];
    read_field(j, "lr", g.lr, where);
    read_field(j, "initial_lr", g.initial_lr, where);
    read_field(j, "weight_decay", g.weight_decay, where);
    read_field(j, "momentum", g.momentum, where);
    read_field(j, "dampening", g.dampening, where);
    read_field(j, "nesterov", g.nesterov, where);
    read_field(j, "beta1", g.beta1, where);
    read_field(j, "beta2", g.beta2, where);
    read_field(j, "eps", g.eps, where);
    read_field(j, "amsgrad", g.amsgrad, where);
  }
  int64_t step = 0;
  read_field(h, "step", step, where);
  step_count_ = step;
  state_ = std::move(new_state);
}

}  // namespace mrc

// Module tree bookkeeping: registration, dotted names, state loading, device moves, freezing.
#include "layers/module.h"

#include <algorithm>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "tensor/autograd.h"

namespace mrc {

void assign_in_place(Tensor& t, const Tensor& value) {
  TensorImpl* dst = t.impl_ptr();
  const TensorImpl* src = value.impl_ptr();
  dst->storage = src->storage;
  dst->shape = src->shape;
  dst->strides = src->strides;
  dst->offset = src->offset;
  dst->dtype = src->dtype;
  dst->grad.reset();
}

void Module::check_free(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos)
    throw std::invalid_argument("Module: invalid member name '" + name + "' (non-empty, no dots)");
  auto taken = [&](const auto& v) {
    return std::any_of(v.begin(), v.end(), [&](const auto& p) { return p.first == name; });
  };
  if (taken(params_) || taken(buffers_) || taken(children_))
    throw std::invalid_argument("Module " + type_name() + ": name '" + name + "' is already registered");
}

Tensor& Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  check_free(name);
  if (value.defined() && requires_grad) value.requires_grad_(true);
  params_.emplace_back(name, value);
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor value) {
  check_free(name);
  buffers_.emplace_back(name, value);
  return buffers_.back().second;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> child) {
  check_free(name);
  if (!child) throw std::invalid_argument("Module: child '" + name + "' is null");
  children_.emplace_back(name, std::move(child));
}

void Module::collect(const std::string& prefix, bool params, bool buffers, bool recurse, NamedTensors& out) const {
  if (params)
    for (const auto& [n, t] : params_)
      if (t.defined()) out.emplace_back(prefix + n, t);
  if (buffers)
    for (const auto& [n, t] : buffers_)
      if (t.defined()) out.emplace_back(prefix + n, t);
  if (recurse)
    for (const auto& [n, c] : children_) c->collect(prefix + n + ".", params, buffers, true, out);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  collect("", true, false, recurse, out);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  collect("", false, true, recurse, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules(const std::string& prefix) {
  std::vector<std::pair<std::string, Module*>> out{{prefix, this}};
  for (auto& [n, c] : children_) {
    auto sub = c->named_modules(prefix.empty() ? n : prefix + "." + n);
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::shared_ptr<Module> Module::child(const std::string& name) const {
  for (const auto& [n, c] : children_)
    if (n == name) return c;
  throw std::out_of_range("Module " + type_name() + " has no child '" + name + "'");
}

std::map<std::string, Tensor> Module::state_dict() const {
  NamedTensors all;
  collect("", true, true, true, all);
  return {all.begin(), all.end()};
}

Tensor& Module::find(const std::string& dotted) {
  const size_t dot = dotted.find('.');
  if (dot == std::string::npos) {
    for (auto& [n, t] : params_)
      if (n == dotted) return t;
    for (auto& [n, t] : buffers_)
      if (n == dotted) return t;
    throw std::out_of_range("Module " + type_name() + " has no parameter or buffer '" + dotted + "'");
  }
  const std::string head = dotted.substr(0, dot);
  for (auto& [n, c] : children_)
    if (n == head) return c->find(dotted.substr(dot + 1));
  throw std::out_of_range("Module " + type_name() + " has no child '" + head + "' (looking for '" + dotted + "')");
}

std::vector<std::string> Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict,
                                                 const std::vector<std::string>& exclude_regex) {
  std::vector<std::regex> excl;
  for (const auto& e : exclude_regex) excl.emplace_back(e);
  auto excluded = [&](const std::string& n) {
    return std::any_of(excl.begin(), excl.end(), [&](const std::regex& r) { return std::regex_match(n, r); });
  };
  std::map<std::string, Tensor> mine = state_dict();
  std::vector<std::string> missing, unexpected, wrong_shape, skipped;
  for (const auto& [n, t] : mine) {
    if (excluded(n)) {
      skipped.push_back(n);
      continue;
    }
    auto it = state.find(n);
    if (it == state.end())
      missing.push_back(n);
    else if (it->second.shape() != t.shape())
      wrong_shape.push_back(n + " (checkpoint " + shape_str(it->second.shape()) + ", model " + shape_str(t.shape()) + ")");
  }
  for (const auto& [n, t] : state)
    if (!mine.count(n) && !excluded(n)) unexpected.push_back(n);
  if (strict && (!missing.empty() || !unexpected.empty() || !wrong_shape.empty())) {
    std::ostringstream os;
    os << "load_state_dict: state does not match the model";
    auto list = [&](const char* what, const std::vector<std::string>& v) {
      if (v.empty()) return;
      os << "; " << v.size() << ' ' << what << ':';
      for (const auto& s : v) os << ' ' << s;
    };
    list("missing", missing);
    list("unexpected", unexpected);
    list("wrongly shaped", wrong_shape);
    throw std::runtime_error(os.str());
  }
  NoGradGuard ng;
  for (auto& [n, t] : mine) {
    if (excluded(n)) continue;
    auto it = state.find(n);
    if (it == state.end() || it->second.shape() != t.shape()) {
      skipped.push_back(n);
      continue;
    }
    Tensor dst = t;
    dst.copy_(it->second);
  }
  for (const auto& n : unexpected) skipped.push_back(n);
  return skipped;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::to(Device device) {
  for (auto& [n, t] : named_parameters()) {
    if (t.device() == device) continue;
    Tensor moved = t.detach().to(device);
    assign_in_place(t, moved);
  }
  for (auto& [n, t] : named_buffers()) {
    if (t.device() == device) continue;
    Tensor moved = t.detach().to(device);
    assign_in_place(t, moved);
  }
}

void Module::to(DType dtype) {
  for (auto& [n, t] : state_dict()) {
    if (!t.is_floating_point() || t.dtype() == dtype) continue;
    Tensor moved = t.detach().to(dtype);
    Tensor handle = t;
    assign_in_place(handle, moved);
  }
}

void Module::zero_grad() {
  for (auto& [n, t] : named_parameters()) t.zero_grad();
}

int Module::set_requires_grad(const std::string& name_regex, bool requires_grad) {
  const std::regex re(name_regex);
  int n = 0;
  for (auto& [name, t] : named_parameters()) {
    if (!std::regex_match(name, re)) continue;
    t.requires_grad_(requires_grad);
    if (!requires_grad) t.zero_grad();
    ++n;
  }
  return n;
}

int64_t Module::parameter_count(bool trainable_only) const {
  int64_t n = 0;
  for (const auto& [name, t] : named_parameters())
    if (!trainable_only || t.requires_grad()) n += t.numel();
  return n;
}

}  // namespace mrc

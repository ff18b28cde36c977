// Module: a tree of named parameters, buffers and children with torchvision-style dotted names
// ("backbone.body.layer1.0.conv1.weight"), train/eval mode, device moves and freezing by name pattern.
// Layers with one input and one output derive from UnaryModule so Sequential can chain them.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace mrc {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  virtual std::string type_name() const { return "Module"; }

  // Names: parameters, buffers and children share one namespace per module; registering a taken name throws.
  Tensor& register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  Tensor& register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
    add_child(name, child);
    return child;
  }

  NamedTensors named_parameters(bool recurse = true) const;   // in registration order, dotted names
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }
  std::vector<std::pair<std::string, Module*>> named_modules(const std::string& prefix = "");
  std::shared_ptr<Module> child(const std::string& name) const;  // throws if absent
  // Parameters and buffers by dotted name (torchvision's state_dict keys).
  std::map<std::string, Tensor> state_dict() const;
  Tensor& find(const std::string& dotted_name);  // parameter or buffer; throws naming the closest prefix

  // Copies values from `state` (no-grad, shape-checked, dtype-converted). Strict: every name must match both
  // ways; errors list every missing, unexpected and wrongly shaped name. Returns the names not loaded.
  std::vector<std::string> load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true,
                                           const std::vector<std::string>& exclude_regex = {});

  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  void to(Device device);   // moves parameters and buffers in place (handles stay valid)
  void to(DType dtype);     // floating parameters and buffers only
  void zero_grad();
  // Sets requires_grad on every parameter whose dotted name matches the regex (ECMAScript, full match).
  int set_requires_grad(const std::string& name_regex, bool requires_grad);
  int64_t parameter_count(bool trainable_only = false) const;

 protected:
  void add_child(const std::string& name, std::shared_ptr<Module> child);
  bool training_ = true;

 private:
  void check_free(const std::string& name) const;
  void collect(const std::string& prefix, bool params, bool buffers, bool recurse, NamedTensors& out) const;
  std::vector<std::pair<std::string, Tensor>> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

// Replaces t's contents (storage, strides, dtype) in place so every handle sees the moved tensor.
void assign_in_place(Tensor& t, const Tensor& value);

}  // namespace mrc

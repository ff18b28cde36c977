// Reverse-mode autograd: graph nodes with a backward closure, saved-tensor version checks, no-grad scope.
//
// An op computes its output without history, then calls record(out, {inputs}, name, backward) where
// backward maps the output's gradient to one gradient per input (an undefined Tensor where there is
// none). Backward closures run in a no-grad scope and capture only what they need, through SavedTensor
// so an in-place change of a saved tensor is caught.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace mrc {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

class Node {
 public:
  struct Edge {
    std::shared_ptr<Node> node;          // the input's grad_fn, or
    std::shared_ptr<TensorImpl> leaf;    // the input itself when it is a leaf requiring grad
    bool active() const { return node || leaf; }
  };
  Node(std::string name, std::vector<Edge> edges, BackwardFn fn)
      : name_(std::move(name)), edges_(std::move(edges)), fn_(std::move(fn)) {}

  const std::string& name() const { return name_; }
  const std::vector<Edge>& edges() const { return edges_; }
  std::vector<Tensor> apply(const Tensor& grad_output, bool retain_graph);
  bool released() const { return !fn_; }

 private:
  std::string name_;
  std::vector<Edge> edges_;
  BackwardFn fn_;
};

// Grad mode (thread-local). NoGradGuard disables recording for its lifetime.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// A tensor kept for backward: a history-free alias plus the storage version at save time.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t);
  Tensor get() const;  // throws std::runtime_error if the tensor was modified in place since saved
  bool defined() const { return t_.defined(); }

 private:
  Tensor t_;
  uint64_t version_ = 0;
};

// True when an op on these inputs must record history.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches history to `out` (when needs_grad) and returns it.
Tensor record(Tensor out, const std::vector<Tensor>& inputs, const char* name, BackwardFn backward);

// Runs backward from `root` with `grad` (see Tensor::backward).
void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph);

// Sums `grad` down to `shape` (the inverse of broadcasting), used by broadcasting ops' backward.
Tensor sum_to(const Tensor& grad, const Shape& shape);

// Gradients of `outputs` w.r.t. `inputs` without touching .grad (used by gradient checks).
std::vector<Tensor> grad(const Tensor& output, const std::vector<Tensor>& inputs, const Tensor& grad_output = Tensor());

}  // namespace mrc

// The autograd engine: recording, saved-tensor checks, and backward in topological order.
#include "tensor/autograd.h"

#include <chrono>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "kernels/elementwise/elementwise.h"
#include "kernels/reduce/reduce.h"
#include "tensor/profile.h"

namespace mrc {

namespace {

// Profile stage of each node recorded while profiling (profile.h), read back when its backward runs. A
// side table, so nodes carry nothing when profiling is off.
std::mutex g_stage_mutex;
std::unordered_map<const Node*, const char*> g_stage;

void remember_stage(const Node* node, const char* stage) {
  std::lock_guard<std::mutex> lock(g_stage_mutex);
  g_stage[node] = stage;
}

const char* take_stage(const Node* node, bool keep) {
  std::lock_guard<std::mutex> lock(g_stage_mutex);
  const auto it = g_stage.find(node);
  if (it == g_stage.end()) return "other";
  const char* stage = it->second;
  if (!keep) g_stage.erase(it);
  return stage;
}

thread_local bool t_grad_enabled = true;
}

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = prev_; }

SavedTensor::SavedTensor(const Tensor& t) {
  if (!t.defined()) return;
  t_ = t.detach();
  version_ = t.storage()->version();
}

Tensor SavedTensor::get() const {
  if (t_.defined() && t_.storage()->version() != version_)
    throw std::runtime_error("autograd: a tensor saved for backward (" + t_.str() +
                             ") was modified by an in-place operation after it was saved");
  return t_;
}

std::vector<Tensor> Node::apply(const Tensor& grad_output, bool retain_graph) {
  if (!fn_)
    throw std::runtime_error("autograd: trying to backward through the graph a second time (node '" + name_ +
                             "'): its saved tensors were freed; pass retain_graph=true to the first backward");
  std::vector<Tensor> grads = fn_(grad_output);
  if (!retain_graph) fn_ = nullptr;
  if (grads.size() != edges_.size())
    throw std::logic_error("autograd: backward of '" + name_ + "' returned " + std::to_string(grads.size()) +
                           " gradients for " + std::to_string(edges_.size()) + " inputs");
  return grads;
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(Tensor out, const std::vector<Tensor>& inputs, const char* name, BackwardFn backward) {
  if (!needs_grad(inputs)) return out;
  std::vector<Node::Edge> edges(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined() || !t.requires_grad()) continue;
    if (t.grad_fn())
      edges[i].node = t.grad_fn();
    else
      edges[i].leaf = t.impl_shared();
  }
  TensorImpl* impl = out.impl_ptr();
  impl->grad_fn = std::make_shared<Node>(name, std::move(edges), std::move(backward));
  if (const char* stage = profile::current_stage()) remember_stage(impl->grad_fn.get(), stage);
  impl->requires_grad = true;
  return out;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int64_t lead = grad.dim() - int64_t(shape.size());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < grad.dim(); ++d) {
    if (d < lead || (shape[size_t(d - lead)] == 1 && grad.shape()[size_t(d)] != 1)) dims.push_back(d);
  }
  Tensor r = dims.empty() ? grad : sum(grad, dims, /*keepdim=*/true);
  return r.reshape(shape);
}

namespace {

// node.apply, timed as "backward.<stage>" when profiling (nodes recorded outside any stage: "backward.other")
std::vector<Tensor> apply_profiled(Node& node, const Tensor& g, bool retain_graph) {
  if (!profile::enabled()) return node.apply(g, retain_graph);
  const auto start = std::chrono::steady_clock::now();
  std::vector<Tensor> grads = node.apply(g, retain_graph);
  profile::add(std::string("backward.") + take_stage(&node, retain_graph),
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  return grads;
}


// Nodes reachable from root, in an order where each node comes before all nodes it feeds into.
std::vector<Node*> topological_order(Node* root) {
  std::vector<Node*> order;
  std::unordered_set<Node*> visited;
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
  visited.insert(root);
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->edges().size()) {
      Node* child = node->edges()[next++].node.get();
      if (child && visited.insert(child).second) stack.push_back({child, 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  return {order.rbegin(), order.rend()};  // reverse post-order: consumers first
}

void accumulate(Tensor& slot, const Tensor& g) {
  if (!g.defined()) return;
  slot = slot.defined() ? add(slot, g) : g;
}

using LeafSink = std::function<void(const std::shared_ptr<TensorImpl>&, const Tensor&)>;

void execute(const Tensor& root, const Tensor& grad_in, bool retain_graph, const LeafSink& sink) {
  if (!root.requires_grad())
    throw std::runtime_error("backward: the tensor (" + root.str() + ") does not require grad and has no history");
  Tensor grad = grad_in;
  if (!grad.defined()) {
    if (root.numel() != 1)
      throw std::runtime_error("backward: a gradient can be created implicitly only for one-element outputs; "
                               "this output has shape " + shape_str(root.shape()) + ", pass grad explicitly");
    grad = Tensor::ones(root.shape(), root.dtype(), root.device());
  } else if (grad.shape() != root.shape()) {
    throw std::invalid_argument("backward: grad of shape " + shape_str(grad.shape()) + " for an output of shape " +
                                shape_str(root.shape()));
  }
  NoGradGuard no_grad;
  if (!root.grad_fn()) {  // a leaf: its gradient is grad itself
    sink(root.impl_shared(), grad);
    return;
  }
  std::unordered_map<Node*, Tensor> pending;
  pending[root.grad_fn().get()] = grad;
  for (Node* node : topological_order(root.grad_fn().get())) {
    auto it = pending.find(node);
    if (it == pending.end() || !it->second.defined()) continue;
    Tensor g = std::move(it->second);
    pending.erase(it);
    std::vector<Tensor> grads = apply_profiled(*node, g, retain_graph);
    for (size_t i = 0; i < grads.size(); ++i) {
      const Node::Edge& e = node->edges()[i];
      if (!grads[i].defined()) continue;
      if (e.node)
        accumulate(pending[e.node.get()], grads[i]);
      else if (e.leaf)
        sink(e.leaf, grads[i]);
    }
  }
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
  execute(root, grad, retain_graph, [](const std::shared_ptr<TensorImpl>& leaf, const Tensor& g) {
    if (g.shape() != leaf->shape)
      throw std::logic_error("autograd: gradient of shape " + shape_str(g.shape()) + " for a leaf of shape " +
                             shape_str(leaf->shape));
    if (leaf->grad) {
      leaf->grad = add(Tensor(leaf->grad), g).impl_shared();
    } else {
      // own buffer: the same gradient tensor may reach several leaves, and optimizers work in place
      Tensor own = Tensor::empty(g.shape(), g.dtype(), g.device());
      own.copy_(g);
      leaf->grad = own.impl_shared();
    }
  });
}

std::vector<Tensor> grad(const Tensor& output, const std::vector<Tensor>& inputs, const Tensor& grad_output) {
  std::unordered_map<TensorImpl*, size_t> index;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].is_leaf()) throw std::invalid_argument("grad(): inputs must be leaf tensors");
    index[inputs[i].impl_ptr()] = i;
  }
  std::vector<Tensor> out(inputs.size());
  execute(output, grad_output, /*retain_graph=*/true, [&](const std::shared_ptr<TensorImpl>& leaf, const Tensor& g) {
    auto it = index.find(leaf.get());
    if (it != index.end()) accumulate(out[it->second], g);
  });
  for (size_t i = 0; i < out.size(); ++i)
    if (!out[i].defined()) out[i] = Tensor::zeros(inputs[i].shape(), inputs[i].dtype(), inputs[i].device());
  return out;
}

}  // namespace mrc

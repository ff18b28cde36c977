// Comparing our ops with torch references written by a fixture script. Per case the fixture saves the
// inputs, "<case>.out" (forward output), a random output weight w and the gradients of sum(out * w):
// against_torch reads "<case>.w" and "<case>.grad.<input>", TorchRefs "<case>.<weight>" and
// "<case>.grad_<input>" (the two spellings the fixture scripts use).
#pragma once
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kernels/ops.h"
#include "tensor/serialize.h"
#include "test_util.h"

namespace mrc::test {

// Element i passes when |got - want| <= atol + rtol * |want_i|, with atol = rtol * max|want|: float32
// sums that cancel to near zero carry the rounding of their largest terms, not of their result.
inline void expect_close(const Tensor& got, const Tensor& want, double rtol, const std::string& what) {
  REQUIRE_MESSAGE(got.shape() == want.shape(), what << ": shape " << shape_str(got.shape()) << " vs " << shape_str(want.shape()));
  const auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double scale = 0;
  for (double v : w) scale = std::max(scale, std::abs(v));
  const double atol = std::max(1e-7, rtol * scale);
  double worst = 0;
  int bad = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    worst = std::max(worst, std::abs(g[i] - w[i]));
    if (!close(g[i], w[i], atol, rtol) && bad++ < 3) MESSAGE(what << "[" << i << "]: " << g[i] << " vs " << w[i]);
  }
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " mismatches, max abs error " << worst);
}

// inputs: (gradient name, fixture key); forward within fwd_rtol, gradients within bwd_rtol.
inline void against_torch(const std::map<std::string, Tensor>& ref, const std::string& name,
                          const std::vector<std::pair<std::string, std::string>>& inputs,
                          const std::function<Tensor(const std::vector<Tensor>&)>& f, double fwd_rtol = 1e-5,
                          double bwd_rtol = 1e-4) {
  std::vector<Tensor> xs;
  for (auto& [n, key] : inputs) {
    Tensor t = ref.at(key).clone();
    if (t.is_floating_point()) t.requires_grad_();
    xs.push_back(t);
  }
  const Tensor out = f(xs);
  expect_close(out, ref.at(name + ".out"), fwd_rtol, name + " forward");
  std::vector<Tensor> wrt;
  std::vector<std::string> names;
  for (size_t i = 0; i < xs.size(); ++i)
    if (ref.count(name + ".grad." + inputs[i].first)) {
      wrt.push_back(xs[i]);
      names.push_back(inputs[i].first);
    }
  if (wrt.empty()) return;
  const auto grads = grad(sum(mul(out, ref.at(name + ".w"))), wrt);
  for (size_t i = 0; i < wrt.size(); ++i) expect_close(grads[i], ref.at(name + ".grad." + names[i]), bwd_rtol, name + " grad " + names[i]);
}

// Names the parts of a case in a TorchRefs file, and how close ours must be.
struct RefCase {
  std::string out = "out";     // forward reference: <case>.<out>
  std::string weight = "w";    // backpropagated output weight: <case>.<weight>
  double fwd_rtol = 1e-5;
  double bwd_rtol = 1e-4;
};

// One fixture file of torch references, handed out as fresh copies so backward never writes into them.
class TorchRefs {
 public:
  explicit TorchRefs(const std::string& fixture_file) : refs_(load_tensors(fixture(fixture_file))) {}

  bool has(const std::string& key) const { return refs_.count(key) != 0; }
  // A copy of `key` (a leaf that requires grad when `leaf`); a missing key fails the test by name.
  Tensor operator()(const std::string& key, bool leaf = false) const {
    const auto it = refs_.find(key);
    REQUIRE_MESSAGE(it != refs_.end(), "fixture has no tensor \"" << key << "\"");
    Tensor t = it->second.clone();
    if (leaf) t.requires_grad_();
    return t;
  }

  // Checks `out` against <case>.<out>, backpropagates <case>.<weight> and checks the gradient of each
  // input against <case>.grad_<input>.
  void check(const std::string& name, const Tensor& out, const std::vector<std::pair<std::string, Tensor>>& inputs,
             const RefCase& c = {}) const {
    expect_close(out, (*this)(name + "." + c.out), c.fwd_rtol, name + " forward");
    out.backward((*this)(name + "." + c.weight));
    for (const auto& [arg, t] : inputs)
      expect_close(t.grad(), (*this)(name + ".grad_" + arg), c.bwd_rtol, name + " grad " + arg);
  }

  // Runs f on the inputs <case>.<arg> and checks it as above. Every input is differentiated when
  // `all_grads`; otherwise only those the fixture holds a gradient for (targets and class weights have none).
  void check_op(const std::string& name, const std::vector<std::string>& args,
                const std::function<Tensor(const std::vector<Tensor>&)>& f, bool all_grads, const RefCase& c = {}) const {
    std::vector<Tensor> xs;
    std::vector<std::pair<std::string, Tensor>> wrt;
    for (const auto& a : args) {
      const bool leaf = all_grads || has(name + ".grad_" + a);
      xs.push_back((*this)(name + "." + a, leaf));
      if (leaf) wrt.emplace_back(a, xs.back());
    }
    check(name, f(xs), wrt, c);
  }

 private:
  TensorMap refs_;
};

}  // namespace mrc::test

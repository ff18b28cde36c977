// Comparing our ops with torch references written by a fixture script. Per case the fixture saves the
// inputs, "<case>.out" (forward output), a random output weight w and the gradients of sum(out * w):
// against_torch reads "<case>.w" and "<case>.grad.<input>", TorchRefs "<case>.<weight>" and
// "<case>.grad_<input>" (the two spellings the fixture scripts use). against_float64_torch reads the float64
// references of torch_ref.Recorder.record_multilinear and checks our float64 and float32 runs against them
// within tests/tolerance.h's rounding bound.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "kernels/ops.h"
#include "tensor/serialize.h"
#include "test_util.h"
#include "tolerance.h"

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

// Element i of `got` passes when |got_i - want_i| <= bound_i. Returns the worst |got_i - want_i| / bound_i
// (elements with a zero bound must match exactly).
inline double expect_within(const Tensor& got, const Tensor& want, const std::vector<double>& bound, const std::string& what) {
  REQUIRE_MESSAGE(got.shape() == want.shape(), what << ": shape " << shape_str(got.shape()) << " vs " << shape_str(want.shape()));
  const auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double worst = 0;
  int bad = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double err = std::abs(g[i] - w[i]);
    if (err > bound[i] || std::isnan(g[i])) {
      if (bad++ < 3) MESSAGE(what << "[" << i << "]: " << g[i] << " vs " << w[i] << ", bound " << bound[i]);
      worst = std::max(worst, bound[i] > 0 ? err / bound[i] : HUGE_VAL);
    } else if (bound[i] > 0) {
      worst = std::max(worst, err / bound[i]);
    }
  }
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << g.size() << " elements beyond the rounding bound");
  return worst;
}

// Worst error over bound seen by against_float64_torch, per dtype of our run (the tests print it).
struct RoundingReport {
  double float32 = 0, float64 = 0;
  std::string float32_at, float64_at;
  void add(DType dt, double ratio, const std::string& what) {
    double& r = dt == DType::Float32 ? float32 : float64;
    std::string& at = dt == DType::Float32 ? float32_at : float64_at;
    if (ratio > r || at.empty()) {
      r = ratio;
      at = what;
    }
  }
  std::string str() const {
    std::ostringstream s;
    s << "worst error / rounding bound: float32 " << float32 << " (" << float32_at << "), float64 " << float64 << " ("
      << float64_at << ")";
    return s.str();
  }
};

// A case of a float64 fixture written by torch_ref.Recorder.record_multilinear, run twice: in float64 and in
// float32 (the inputs are float32 numbers, so both start from the reference's inputs). Output and gradients of
// sum(out * w) must lie within rounding_bound(terms, magnitude, u) of the reference (tests/tolerance.h), plus
// the reference's own u64 bound.
inline void against_float64_torch(const std::map<std::string, Tensor>& ref, const std::string& name,
                                  const std::vector<std::pair<std::string, std::string>>& inputs,
                                  const std::function<Tensor(const std::vector<Tensor>&)>& f, RoundingReport* report = nullptr) {
  auto check = [&](const Tensor& got, const std::string& key, DType dt, const std::string& what) {
    const auto terms = ref.at(key + ".terms").to_vector<double>(), mag = ref.at(key + ".mag").to_vector<double>();
    const double u = dt == DType::Float32 ? kUnitRoundoff32 : kUnitRoundoff64;
    std::vector<double> bound(terms.size());
    for (size_t i = 0; i < bound.size(); ++i)
      bound[i] = rounding_bound(terms[i], mag[i], u) + rounding_bound(terms[i], mag[i], kUnitRoundoff64);
    const double r = expect_within(got, ref.at(key), bound, what);
    if (report) report->add(dt, r, what);
  };
  for (DType dt : {DType::Float64, DType::Float32}) {
    const std::string tag = name + (dt == DType::Float32 ? " float32" : " float64");
    std::vector<Tensor> xs;
    for (const auto& in : inputs) xs.push_back(ref.at(in.second).clone().to(dt).requires_grad_());
    const Tensor out = f(xs);
    REQUIRE_MESSAGE(out.dtype() == dt, tag << ": result dtype");
    check(out, name + ".out", dt, tag + " forward");
    const auto grads = grad(sum(mul(out, ref.at(name + ".w").to(dt))), xs);
    for (size_t i = 0; i < xs.size(); ++i) check(grads[i], name + ".grad." + inputs[i].first, dt, tag + " grad " + inputs[i].first);
  }
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

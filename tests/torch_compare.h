// Comparing our ops with torch references written by a fixture script: the fixture saves, per case,
// "<case>.out" (forward output), "<case>.w" (a random weight) and "<case>.grad.<input>" (gradients of
// sum(out * w)); against_torch runs our op on the same inputs and checks all of them.
#pragma once
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kernels/ops.h"
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

}  // namespace mrc::test

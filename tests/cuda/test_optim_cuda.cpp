// The multi-tensor SGD kernel (kernels/multi_tensor, behind set_multi_tensor_optim) against the
// per-parameter path: three steps with momentum, dampening, Nesterov and weight decay over tensors of many
// sizes (more than one launch chunk). With MRC_TEST_FAKE_GPU the "GPU" tensors live on the CPU, where the
// switch leaves the per-parameter path in place: the results must then be identical.
#include <doctest/doctest.h>

#if !defined(MRC_WITH_CUDA)
TEST_CASE("multi-tensor SGD on CUDA (skipped: built without CUDA)") { MESSAGE("built without CUDA: skipped"); }
#else
#include "cuda_test_util.h"
#include "kernels/multi_tensor/multi_tensor.h"
#include "optim/sgd.h"

using namespace mrc;
using namespace mrc::test;

namespace {

// Parameters of 40 sizes (1 to ~20k elements) on `dev`, with fixed gradients set for `step`.
NamedTensors make_params(Device dev) {
  NamedTensors ps;
  for (int i = 0; i < 40; ++i) {
    const int64_t n = 1 + (int64_t(i) * 7919) % 20000;
    ps.emplace_back("p" + std::to_string(i), randn({n}, uint64_t(100 + i)).to(dev).requires_grad_(true));
  }
  return ps;
}

void set_grads(const NamedTensors& ps, int step) {
  for (size_t i = 0; i < ps.size(); ++i) {
    const Tensor g = randn(ps[i].second.shape(), uint64_t(1000 * step + int(i))).to(ps[i].second.device());
    ps[i].second.set_grad(g);
  }
}

std::vector<Tensor> run_sgd(Device dev, bool multi, const SGDOptions& o) {
  kernels::set_multi_tensor_optim(multi);
  const NamedTensors ps = make_params(dev);
  SGD opt(ps, o);
  for (int s = 0; s < 3; ++s) {
    set_grads(ps, s);
    opt.step();
  }
  kernels::set_multi_tensor_optim(false);
  std::vector<Tensor> out;
  for (const auto& [n, p] : ps) out.push_back(p.detach().to(Device::cpu()));
  return out;
}

}  // namespace

TEST_CASE("multi-tensor SGD equals the per-parameter path (momentum, dampening, Nesterov, weight decay)") {
  if (!gpu()) return;
  const std::vector<SGDOptions> opts = {{.lr = 0.1},
                                        {.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-4},
                                        {.lr = 0.05, .momentum = 0.9, .dampening = 0.1},
                                        {.lr = 0.02, .momentum = 0.8, .weight_decay = 0.01, .nesterov = true}};
  for (const SGDOptions& o : opts) {
    CAPTURE(o.momentum);
    CAPTURE(o.nesterov);
    const std::vector<Tensor> plain = run_sgd(gpu_device(), false, o), multi = run_sgd(gpu_device(), true, o);
    const std::vector<Tensor> cpu = run_sgd(Device::cpu(), false, o);
    REQUIRE(plain.size() == multi.size());
    for (size_t i = 0; i < plain.size(); ++i) {
      // the same operations, rounded the same way; only FMA contraction in the per-parameter kernels may differ
      if (fake_gpu()) CHECK(count_mismatches(multi[i], plain[i], 0, 0, "multi vs plain, " + std::to_string(i)) == 0);
      else CHECK(count_mismatches(multi[i], plain[i], 1e-6, 1e-6, "multi vs plain, " + std::to_string(i)) == 0);
      CHECK(count_mismatches(multi[i], cpu[i], 1e-6, 1e-6, "multi vs cpu, " + std::to_string(i)) == 0);
    }
  }
}
#endif  // MRC_WITH_CUDA

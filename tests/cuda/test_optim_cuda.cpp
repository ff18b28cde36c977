// The multi-tensor SGD and Adam/AdamW kernels (kernels/multi_tensor, behind set_multi_tensor_optim) against
// the per-parameter path: three steps with momentum, dampening, Nesterov and weight decay (SGD), weight
// decay, decoupled decay and AMSGrad (Adam) over tensors of many sizes (more than one launch chunk). With MRC_TEST_FAKE_GPU the "GPU" tensors live on the CPU, where the
// switch leaves the per-parameter path in place: the results must then be identical.
#include <doctest/doctest.h>

#if !defined(MRC_WITH_CUDA)
TEST_CASE("multi-tensor SGD on CUDA (skipped: built without CUDA)") { MESSAGE("built without CUDA: skipped"); }
#else
#include <memory>

#include "cuda_test_util.h"
#include "kernels/multi_tensor/multi_tensor.h"
#include "optim/adam.h"
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

std::vector<Tensor> run_adam(Device dev, bool multi, bool decoupled, const AdamOptions& o) {
  kernels::set_multi_tensor_optim(multi);
  const NamedTensors ps = make_params(dev);
  std::unique_ptr<Optimizer> opt;
  if (decoupled) opt = std::make_unique<AdamW>(ps, o);
  else opt = std::make_unique<Adam>(ps, o);
  for (int s = 0; s < 3; ++s) {
    set_grads(ps, s);
    if (s == 1) ps[3].second.set_grad(Tensor());  // one parameter skips a step: its own bias correction
    opt->step();
  }
  kernels::set_multi_tensor_optim(false);
  std::vector<Tensor> out;
  for (const auto& [n, p] : ps) out.push_back(p.detach().to(Device::cpu()));
  for (const auto& [k, t] : opt->state_dict().tensors) out.push_back(t.to(Device::cpu()).to(DType::Float32));
  return out;
}

}  // namespace

TEST_CASE("multi-tensor Adam/AdamW equals the per-parameter path and the CPU (weight decay, AMSGrad)") {
  if (!gpu()) return;
  struct Case {
    bool decoupled;
    AdamOptions o;
  };
  const std::vector<Case> cases = {{false, {.lr = 0.01}},
                                   {false, {.lr = 0.05, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 1e-2}},
                                   {false, {.lr = 0.02, .weight_decay = 1e-3, .amsgrad = true}},
                                   {true, {.lr = 0.03, .weight_decay = 0.1}},
                                   {true, {.lr = 0.03, .weight_decay = 1e-2, .amsgrad = true}}};
  for (const Case& c : cases) {
    CAPTURE(c.decoupled);
    CAPTURE(c.o.amsgrad);
    const std::vector<Tensor> plain = run_adam(gpu_device(), false, c.decoupled, c.o);
    const std::vector<Tensor> multi = run_adam(gpu_device(), true, c.decoupled, c.o);
    const std::vector<Tensor> cpu = run_adam(Device::cpu(), true, c.decoupled, c.o);  // the CPU twin
    REQUIRE(plain.size() == multi.size());
    REQUIRE(cpu.size() == multi.size());
    for (size_t i = 0; i < plain.size(); ++i) {
      // adam_element rounds every product on its own on both sides: the CUDA kernel equals its CPU twin;
      // the per-parameter CUDA kernels may contract a product into an FMA, hence the small tolerance there
      CHECK(count_mismatches(multi[i], cpu[i], 0, 0, "multi vs cpu twin, " + std::to_string(i)) == 0);
      CHECK(count_mismatches(multi[i], plain[i], 1e-6, 1e-5, "multi vs plain, " + std::to_string(i)) == 0);
    }
  }
}

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

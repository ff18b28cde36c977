// The fused convolution epilogue (kernels/conv/conv_fused.h) and frozen batch norm folded into convolutions
// (layers/fold_bn.h), frozen or eval-mode batch norm: float64 gradient checks, equality with the separate ops (float64: to rounding; float32:
// within float32 error on a ResNet-50), the switch, and the cache following in-place changes.
#include <doctest/doctest.h>

#include "gradcheck.h"
#include "kernels/conv/conv_fused.h"
#include "kernels/ops.h"
#include "layers/fold_bn.h"
#include "models/resnet.h"
#include "torch_compare.h"

using namespace mrc;
using test::expect_close;
using test::gradcheck;
using test::rand_leaf;

namespace {

struct FoldSwitch {  // restores the global switch
  explicit FoldSwitch(bool on) : prev(fold_frozen_bn_enabled()) { set_fold_frozen_bn(on); }
  ~FoldSwitch() { set_fold_frozen_bn(prev); }
  bool prev;
};

// A FrozenBatchNorm2d with random statistics (float64).
std::shared_ptr<FrozenBatchNorm2d> random_frozen_bn(int64_t c, Generator& g) {
  auto bn = std::make_shared<FrozenBatchNorm2d>(c);
  bn->to(DType::Float64);
  bn->weight.copy_(Tensor::uniform({c}, 0.5, 1.5, &g, DType::Float64));
  bn->bias.copy_(Tensor::uniform({c}, -0.5, 0.5, &g, DType::Float64));
  bn->running_mean.copy_(Tensor::uniform({c}, -0.3, 0.3, &g, DType::Float64));
  bn->running_var.copy_(Tensor::uniform({c}, 0.2, 2.0, &g, DType::Float64));
  return bn;
}

}  // namespace

TEST_CASE("conv2d_fused equals conv2d + residual + relu and has their gradients") {
  struct Case {
    int64_t c, m, hw, k, stride, pad;
    bool bias, residual, relu;
  };
  for (const Case& c : {Case{3, 4, 6, 3, 1, 1, true, true, true}, Case{4, 5, 7, 3, 2, 1, false, false, true},
                        Case{5, 6, 5, 1, 1, 0, true, true, false}, Case{2, 3, 6, 1, 2, 0, true, false, true}}) {
    CAPTURE(c.k);
    CAPTURE(c.stride);
    Generator g(uint64_t(7 + c.c));
    const int64_t oh = conv_out_size(c.hw, c.k, c.stride, c.pad, 1);
    const Tensor x = rand_leaf({2, c.c, c.hw, c.hw}, g), w = rand_leaf({c.m, c.c, c.k, c.k}, g);
    const Tensor b = c.bias ? rand_leaf({c.m}, g) : Tensor();
    const Tensor r = c.residual ? rand_leaf({2, c.m, oh, oh}, g) : Tensor();
    auto fused = [&](const std::vector<Tensor>& in) {
      return conv2d_fused(in[0], in[1], c.bias ? in[2] : Tensor(), c.residual ? in[3] : Tensor(), c.relu, c.stride, c.pad);
    };
    auto composed = [&](const std::vector<Tensor>& in) {
      Tensor y = conv2d(in[0], in[1], c.bias ? in[2] : Tensor(), c.stride, c.pad);
      if (c.residual) y = add(y, in[3]);
      return c.relu ? relu(y) : y;
    };
    const std::vector<Tensor> in{x, w, b.defined() ? b : Tensor::zeros({1}, DType::Float64),
                                 r.defined() ? r : Tensor::zeros({1}, DType::Float64)};
    expect_close(fused(in), composed(in), 1e-12, "fused forward");
    std::vector<Tensor> wrt{x, w};
    if (c.bias) wrt.push_back(b);
    if (c.residual) wrt.push_back(r);
    const Tensor ow = Tensor::randn(fused(in).shape(), &g, DType::Float64);
    const auto gf = grad(sum(mul(fused(in), ow)), wrt), gc = grad(sum(mul(composed(in), ow)), wrt);
    for (size_t i = 0; i < wrt.size(); ++i) expect_close(gf[i], gc[i], 1e-12, "fused grad " + std::to_string(i));
    gradcheck(fused, in);
  }
}

TEST_CASE("conv2d_fused rejects a residual of another shape") {
  const Tensor x = Tensor::randn({1, 2, 5, 5}), w = Tensor::randn({3, 2, 3, 3});
  CHECK_THROWS_WITH_AS(conv2d_fused(x, w, Tensor(), Tensor::randn({1, 3, 5, 5}), true, 1, 0),
                       doctest::Contains("residual must have the output's shape"), std::invalid_argument);
}

TEST_CASE("frozen batch norm folded into a conv equals conv then frozen BN, in value and gradient") {
  Generator g(3);
  for (bool residual : {false, true})
    for (bool conv_bias : {false, true}) {
      Conv2d conv(4, 6, 3, 1, 1, conv_bias, &g);
      conv.to(DType::Float64);
      auto bn = random_frozen_bn(6, g);
      const Tensor x = rand_leaf({2, 4, 7, 7}, g);
      const Tensor r = residual ? rand_leaf({2, 6, 7, 7}, g) : Tensor();
      ConvNormFold fold;
      auto run = [&](bool on) {
        FoldSwitch s(on);
        return fold.forward(conv, *bn, x, r, true);
      };
      const Tensor folded = run(true), separate = run(false);
      expect_close(folded, separate, 1e-12, "folded forward");
      const Tensor ow = Tensor::randn(folded.shape(), &g, DType::Float64);
      std::vector<Tensor> wrt{x, conv.weight};
      if (residual) wrt.push_back(r);
      const auto gf = grad(sum(mul(run(true), ow)), wrt), gs = grad(sum(mul(run(false), ow)), wrt);
      for (size_t i = 0; i < wrt.size(); ++i) expect_close(gf[i], gs[i], 1e-12, "folded grad " + std::to_string(i));
    }
}

TEST_CASE("the folded weights follow in-place changes of the conv and the norm") {
  Generator g(5);
  Conv2d conv(3, 4, 1, 1, 0, false, &g);
  conv.to(DType::Float64);
  conv.weight.requires_grad_(false);
  auto bn = random_frozen_bn(4, g);
  const Tensor x = Tensor::uniform({1, 3, 4, 4}, -1, 1, &g, DType::Float64);
  ConvNormFold fold;
  NoGradGuard ng;
  FoldSwitch on(true);
  const Tensor before = fold.forward(conv, *bn, x);
  bn->running_var.mul_(4.0);
  expect_close(fold.forward(conv, *bn, x), bn->forward(conv.forward(x)), 1e-12, "after a running_var change");
  conv.weight.mul_(-1.0);
  expect_close(fold.forward(conv, *bn, x), bn->forward(conv.forward(x)), 1e-12, "after a weight change");
  CHECK(max(abs(sub(fold.forward(conv, *bn, x), before))).item<double>() > 1e-3);
}

TEST_CASE("ResNet-50 with its batch norm folded equals the separate ops within float32 error") {
  for (NormKind kind : {NormKind::FrozenBatchNorm, NormKind::BatchNorm}) {  // batch norm: in eval mode
    CAPTURE(int(kind));
    ResNet net({50, kind, 32, 10, 11});
    Generator g(9);
    for (auto& [name, t] : net.named_buffers())  // statistics away from the identity, so the fold matters
      if (name.find("running_var") != std::string::npos) t.copy_(Tensor::uniform(t.shape(), 0.5, 2.0, &g));
    net.eval();
    const Tensor x = Tensor::randn({1, 3, 64, 64}, &g);
    NoGradGuard ng;
    Tensor folded, separate;
    {
      FoldSwitch s(true);
      folded = net.forward(x);
    }
    {
      FoldSwitch s(false);
      separate = net.forward(x);
    }
    expect_close(folded, separate, 1e-4, "ResNet-50 logits");
  }
}

TEST_CASE("batch norm in training mode is not folded") {
  Generator g(4);
  Conv2d conv(3, 4, 1, 1, 0, false, &g);
  BatchNorm2d bn(4);
  bn.train();
  const Tensor x = Tensor::randn({2, 3, 5, 5}, &g);
  ConvNormFold fold;
  FoldSwitch on(true);
  const Tensor y = fold.forward(conv, bn, x);
  CHECK(bn.num_batches_tracked.item<int64_t>() == 1);  // the layer itself ran, with batch statistics
  CHECK(max(abs(mean(y, {0, 2, 3}))).item<double>() < 1e-5);  // normalized with the batch's statistics
}

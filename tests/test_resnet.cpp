// ResNet-50/101: torchvision's layout and names, and parity with torchvision's resnet50 on the same
// weights: logits and every parameter gradient.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "kernels/gemm/gemm.h"
#include "kernels/ops.h"
#include "models/resnet.h"
#include "tensor/serialize.h"
#include "test_util.h"
#include "tolerance.h"

using namespace mrc;

static double rel_err(const Tensor& a, const Tensor& b) {
  const Tensor d = sub(a.to(DType::Float64), b.to(DType::Float64));
  return norm(d).item<double>() / std::max(1e-12, norm(b.to(DType::Float64)).item<double>());
}

TEST_CASE("ResNet-50 and -101: torchvision's names, shapes and parameter counts") {
  ResNet r50({50, NormKind::BatchNorm, 32, 1000, 0});
  CHECK(r50.parameter_count() == 25557032);  // torchvision resnet50
  auto sd = r50.state_dict();
  CHECK(sd.at("layer1.0.downsample.0.weight").shape() == Shape{256, 64, 1, 1});
  CHECK(sd.at("layer4.2.conv2.weight").shape() == Shape{512, 512, 3, 3});
  CHECK(sd.at("layer2.0.conv2.weight").shape() == Shape{128, 128, 3, 3});
  CHECK(sd.count("layer3.5.bn3.running_var") == 1);
  CHECK(sd.count("layer3.6.conv1.weight") == 0);
  CHECK(sd.at("fc.weight").shape() == Shape{1000, 2048});
  ResNet r101({101, NormKind::FrozenBatchNorm, 32, 0, 0});
  CHECK(r101.parameter_count() == 44549160 - 105344 - 2049000);  // torchvision resnet101 less BN affine (buffers when frozen) and fc
  CHECK(r101.state_dict().count("layer3.22.conv3.weight") == 1);
  CHECK(r101.state_dict().count("fc.weight") == 0);
  CHECK_THROWS_AS(ResNet({34, NormKind::BatchNorm, 32, 10, 0}), std::invalid_argument);
}

TEST_CASE("ResNet: feature strides and trainable layers") {
  ResNet r({50, NormKind::FrozenBatchNorm, 32, 0, 1});
  NoGradGuard ng;
  auto f = r.forward_features(Tensor::randn({1, 3, 64, 96}));
  CHECK(f.c2.shape() == Shape{1, 256, 16, 24});
  CHECK(f.c3.shape() == Shape{1, 512, 8, 12});
  CHECK(f.c4.shape() == Shape{1, 1024, 4, 6});
  CHECK(f.c5.shape() == Shape{1, 2048, 2, 3});
  r.set_trainable_layers(3);
  CHECK(r.find("layer2.0.conv1.weight").requires_grad());
  CHECK(!r.find("layer1.0.conv1.weight").requires_grad());
  CHECK(!r.find("conv1.weight").requires_grad());
  r.set_trainable_layers(5);
  CHECK(r.find("conv1.weight").requires_grad());
  CHECK_THROWS_AS(r.forward_features(Tensor::randn({1, 4, 32, 32})), std::invalid_argument);
}

TEST_CASE("ResNet-50 equals torchvision's float64: logits and every parameter gradient, in float64 and in float32") {
  const auto ref = load_tensors(test::fixture("resnet50.safetensors"));
  std::map<std::string, Tensor> state;
  for (auto& [k, v] : ref)
    if (k.rfind("state.", 0) == 0) state[k.substr(6)] = v;
  for (DType dt : {DType::Float64, DType::Float32}) {
    const bool f32 = dt == DType::Float32;
    CAPTURE(f32);
    const double u = f32 ? test::kUnitRoundoff32 : test::kUnitRoundoff64;
    ResNet model({50, NormKind::BatchNorm, 32, 10, 0});
    // tests/tolerance.h: lambda * the fixture's measured spread, scaled to our unit roundoff, plus the
    // float64 reference's own
    auto bound = [&](const std::string& key) {
      const double spread = ref.at("spread." + key).item<double>();
      return test::network_rounding_bound(spread, u) + test::network_rounding_bound(spread, test::kUnitRoundoff64);
    };
    CHECK(model.load_state_dict(state).empty());
    model.to(dt);
    model.eval();
    const Tensor logits = model.forward(ref.at("input").to(dt));
    REQUIRE(logits.dtype() == dt);
    const double e = rel_err(logits, ref.at("logits"));
    CHECK_MESSAGE(e <= bound("logits"), "logits relative error " << e << ", bound " << bound("logits"));
    sum(mul(logits, ref.at("w").to(dt))).backward();
    int checked = 0;
    double worst = 0, largest = 0;  // relative error / bound; relative error
    std::string worst_name, largest_name;
    for (auto& [name, p] : model.named_parameters()) {
      REQUIRE_MESSAGE(p.grad().defined(), name);
      const double ge = rel_err(p.grad(), ref.at("grad." + name)), b = bound("grad." + name);
      if (ge / b > worst) {
        worst = ge / b;
        worst_name = name;
      }
      if (ge > largest) {
        largest = ge;
        largest_name = name;
      }
      CHECK_MESSAGE(ge <= b, name << " gradient relative error " << ge << ", bound " << b);
      ++checked;
    }
    MESSAGE((f32 ? "float32" : "float64") << " on GEMM path " << std::string(cpu::gemm_isa()) << ": logits relative error "
                                          << e << " (" << e / bound("logits") << " of its bound); gradients: largest relative error "
                                          << largest << " (" << largest_name << "), closest to its bound " << worst
                                          << " of it (" << worst_name << ")");
    CHECK(checked == 161);
  }
}

// Mask R-CNN on CUDA against the same model on the CPU (the CPU model is the one checked against
// torchvision): inference (FPN features, RPN outputs, proposals, detections) and one training pass with the
// CUDA samplers replaying the CPU run's choices (the five losses, every gradient). Skips without a GPU.
#include <doctest/doctest.h>

#if !defined(MRC_WITH_CUDA)
TEST_CASE("Mask R-CNN on CUDA (skipped: built without CUDA)") { MESSAGE("maskrcnn.cpp built without CUDA: skipped"); }
#else
#include <cuda_runtime.h>

#include <map>
#include <string>
#include <vector>

#include "cuda_test_util.h"
#include "maskrcnn_cuda_test_util.h"
#include "kernels/ops.h"
#include "models/maskrcnn/maskrcnn.h"
#include "torch_compare.h"

using namespace mrc;
using namespace mrc::maskrcnn;

TEST_CASE("Mask R-CNN inference on CUDA equals the CPU model") {
  if (!test::real_gpu()) return;  // raw device pointers: no fake-GPU mode
  const Config c = test::small_maskrcnn_config();
  MaskRCNN cpu(c), gpu(c);
  gpu.to(Device::cuda());
  cpu.eval();
  gpu.eval();
  auto [images, targets] = test::maskrcnn_inputs();
  Trace tc, tg;
  cpu.trace = &tc;
  gpu.trace = &tg;
  const auto dc = cpu.detect(images);
  const auto dg = gpu.detect({images[0].cuda()});
  for (int l = 0; l < 5; ++l) {
    const std::string n = std::to_string(l);
    test::expect_close(tg.at("fpn." + n).cpu(), tc.at("fpn." + n), 1e-4, "fpn." + n);
    test::expect_close(tg.at("rpn.objectness." + n).cpu(), tc.at("rpn.objectness." + n), 1e-4, "rpn.objectness." + n);
    test::expect_close(tg.at("rpn.deltas." + n).cpu(), tc.at("rpn.deltas." + n), 1e-4, "rpn.deltas." + n);
  }
  // proposals: NMS keeps the same boxes (ties aside, see bin/mrc-parity for the full comparison)
  CHECK(tg.at("rpn.proposals.0").size(0) == tc.at("rpn.proposals.0").size(0));
  CHECK(dg[0].boxes.size(0) == dc[0].boxes.size(0));
  CHECK(dg[0].masks.shape() == dc[0].masks.shape());
}

TEST_CASE("Mask R-CNN training on CUDA equals the CPU model (same sampler choices)") {
  if (!test::real_gpu()) return;  // raw device pointers: no fake-GPU mode
  const Config c = test::small_maskrcnn_config();
  MaskRCNN cpu(c), gpu(c);
  gpu.to(Device::cuda());
  cpu.train();
  gpu.train();
  auto [images, targets] = test::maskrcnn_inputs();
  std::map<std::string, SampledMasks> picks;
  cpu.sampler_hook = [&](SamplerStage s, int64_t i, const Tensor& labels, const Tensor&) {
    SampledMasks m = balanced_sample(labels, s == SamplerStage::Rpn ? 256 : 512, s == SamplerStage::Rpn ? 0.5 : 0.25,
                                     cpu.generator());
    picks[std::to_string(int(s)) + "." + std::to_string(i)] = m;
    return m;
  };
  gpu.sampler_hook = [&](SamplerStage s, int64_t i, const Tensor& labels, const Tensor&) {
    const SampledMasks& m = picks.at(std::to_string(int(s)) + "." + std::to_string(i));
    REQUIRE(m.positive.numel() == labels.numel());
    return SampledMasks{m.positive.cuda(), m.negative.cuda()};
  };
  const Losses lc = cpu.forward_train(images, targets);
  Target tg{targets[0].boxes.cuda(), targets[0].labels.cuda(), targets[0].masks.cuda()};
  const Losses lg = gpu.forward_train({images[0].cuda()}, {tg});
  test::expect_training_matches(lc, lg, cpu, gpu);
}
#endif

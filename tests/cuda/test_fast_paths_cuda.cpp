// The GPU fast paths behind switches (each off by default until a run like this one has verified it), against
// the plain path or the CPU: the device samplers (maskrcnn::set_device_samplers), cuDNN's fused conv epilogue
// (set_fused_conv_epilogue_cuda) and conv2d_fused in general, cuDNN algorithm search cached per shape
// (cuda::set_cudnn_benchmark), and CUDA graphs of the inference trunk (maskrcnn::set_cuda_graphs). The
// multi-tensor optimizers are in test_optim_cuda.cpp. Skips without a GPU.
#include <doctest/doctest.h>

#if !defined(MRC_WITH_CUDA)
TEST_CASE("GPU fast paths (skipped: built without CUDA)") { MESSAGE("maskrcnn.cpp built without CUDA: skipped"); }
#else
#include <string>
#include <vector>

#include "cuda_test_util.h"
#include "maskrcnn_cuda_test_util.h"
#include "kernels/box_ops/box_ops_op.h"
#include "kernels/conv/conv_fused.h"
#include "models/maskrcnn/maskrcnn.h"
#include "tensor/cuda/graph.h"
#include "tensor/host_sync.h"

using namespace mrc;
using namespace mrc::test;
using namespace mrc::maskrcnn;

namespace {

Target target_on(const Target& t, Device d) { return {t.boxes.to(d), t.labels.to(d), t.masks.to(d)}; }

}  // namespace

TEST_CASE("device sampler on CUDA: the CPU's draw exactly (same keys, same ranks), without a host read") {
  if (!gpu()) return;
  for (const int64_t n : {int64_t(0), int64_t(37), int64_t(5000), int64_t(261888)}) {
    CAPTURE(n);
    std::vector<int64_t> l(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) l[size_t(i)] = i % 97 == 0 ? 1 : (i % 13 == 0 ? -1 : 0);
    const Tensor labels = Tensor::from_vector(l, {n});
    Generator a(3), b(3);
    const SampledMasks cpu = balanced_sample_device(labels, 256, 0.5, a);
    const Tensor dev_labels = on_gpu(labels);
    HostSyncScope reads;
    const SampledMasks dev = balanced_sample_device(dev_labels, 256, 0.5, b);
    CHECK(reads.count() == 0);
    expect_equal(dev.positive, cpu.positive, "positives");
    expect_equal(dev.negative, cpu.negative, "negatives");
  }
}

TEST_CASE("Mask R-CNN training with the device samplers: CUDA equals the CPU model (losses 1e-4, gradients 1e-3)") {
  // a real device only: in the dry run both sides would be the CPU (half a minute of ResNet-50 on two cores for
  // nothing; test_maskrcnn checks the device-sampler losses on the CPU)
  if (!real_gpu()) return;
  const Config c = small_maskrcnn_config();
  MaskRCNN cpu(c), dev(c);  // the same SEED: the same weights and the same generator stream
  dev.to(gpu_device());
  cpu.train();
  dev.train();
  auto [images, targets] = maskrcnn_inputs();
  set_device_samplers(true);
  const Losses lc = cpu.forward_train(images, targets);
  const Losses lg = dev.forward_train({on_gpu(images[0])}, {target_on(targets[0], gpu_device())});
  set_device_samplers(false);
  expect_training_matches(lc, lg, cpu, dev);
}

TEST_CASE("conv2d_fused on CUDA equals the CPU: bias, residual, ReLU; composed and cuDNN's fused epilogue") {
  if (!gpu()) return;
  struct Case {
    const char* name;
    Shape x, w;
    int64_t stride, pad;
    bool bias, residual, relu;
  };
  const std::vector<Case> cases = {
      {"3x3 bias residual relu (bottleneck end)", {2, 8, 9, 11}, {8, 8, 3, 3}, 1, 1, true, true, true},
      {"1x1 bias relu (folded BN)", {2, 16, 7, 7}, {12, 16, 1, 1}, 1, 0, true, false, true},
      {"3x3 stride 2 no bias relu", {1, 4, 12, 10}, {6, 4, 3, 3}, 2, 1, false, false, true},
      {"1x1 residual, no relu", {2, 6, 5, 5}, {6, 6, 1, 1}, 1, 0, true, true, false},
  };
  for (const bool fused_epilogue : {false, true}) {
    set_fused_conv_epilogue_cuda(fused_epilogue);
    for (const DType dt : {DType::Float32, DType::Float64}) {
      for (const Case& c : cases) {
        const Tensor x = param(c.x, 40, dt), w = param(c.w, 41, dt);
        const Tensor b = c.bias ? param({c.w[0]}, 42, dt) : Tensor();
        const int64_t oh = conv_out_size(c.x[2], c.w[2], c.stride, c.pad, 1), ow = conv_out_size(c.x[3], c.w[3], c.stride, c.pad, 1);
        const Tensor r = c.residual ? param({c.x[0], c.w[0], oh, ow}, 43, dt) : Tensor();
        const Tolerance tol = dt == DType::Float32 ? Tolerance{5e-4, 5e-4} : Tolerance{1e-10, 1e-10};
        check_op(std::string(c.name) + " " + dtype_name(dt) + (fused_epilogue ? " cuDNN fused" : " composed"),
                 [&](const std::vector<Tensor>& in) {
                   return conv2d_fused(in[0], in[1], in[2], in[3], c.relu, c.stride, c.pad);
                 },
                 {x, w, b, r}, tol, tol);
      }
    }
  }
  set_fused_conv_epilogue_cuda(false);
}

TEST_CASE("cuDNN algorithm search (cudnnFind, set_cudnn_benchmark): once per shape, then cached; results equal the CPU") {
  if (!real_gpu()) return;  // plan counting is CUDA's own
  cuda::set_cudnn_benchmark(true);
  const Tensor x = randn({2, 16, 28, 28}, 50), w = randn({32, 16, 3, 3}, 51), b = randn({32}, 52);
  const Tensor ref = conv2d(x, w, b, 1, 1);
  const uint64_t before = cuda::conv_plans_chosen();
  const Tensor y1 = conv2d(on_gpu(x), on_gpu(w), on_gpu(b), 1, 1);
  const uint64_t after_first = cuda::conv_plans_chosen();
  const Tensor y2 = conv2d(on_gpu(x), on_gpu(w), on_gpu(b), 1, 1);
  CHECK(after_first == before + 1);                  // one search for the new shape
  CHECK(cuda::conv_plans_chosen() == after_first);  // none for the same shape again
  expect_close(y1, ref, 5e-4, 5e-4, "benchmarked conv2d");
  expect_equal(y2, y1.cpu(), "the cached plan gives the same bits");
  (void)conv2d(on_gpu(randn({2, 16, 14, 14}, 53)), on_gpu(w), Tensor(), 1, 1);
  CHECK(cuda::conv_plans_chosen() == after_first + 1);  // another shape: its own search
  cuda::set_cudnn_benchmark(false);
}

TEST_CASE("CUDA graph of the inference trunk (backbone + FPN + RPN head): replay equals eager, no cudaMalloc") {
  if (!real_gpu()) return;  // graphs are CUDA's own
  const Config c = small_maskrcnn_config();
  MaskRCNN m(c);
  m.to(Device::cuda());
  m.eval();
  NoGradGuard ng;
  GraphedTrunk trunk;
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    const Tensor batch = on_gpu(randn({1, 3, 128, 128}, uint64_t(60 + round)));
    const std::vector<Tensor> feats = m.backbone->forward(batch);
    const auto head = m.rpn->head->forward(feats);
    const uint64_t mallocs = cuda_mallocs();
    const TrunkOutput g = trunk.run(*m.backbone, *m.rpn->head, batch);
    if (round > 0) CHECK(cuda_mallocs() == mallocs);  // a replay allocates nothing
    REQUIRE(g.features.size() == feats.size());
    for (size_t l = 0; l < feats.size(); ++l) {
      expect_equal(g.features[l], feats[l].cpu(), "fpn level " + std::to_string(l));
      expect_equal(g.head.first[l], head.first[l].cpu(), "objectness level " + std::to_string(l));
      expect_equal(g.head.second[l], head.second[l].cpu(), "deltas level " + std::to_string(l));
    }
  }
  CHECK(trunk.captures() == 1);
  // detect() with the switch on: the same detections as eager
  auto [images, targets] = maskrcnn_inputs(9);
  const auto eager = m.detect({images[0].cuda()});
  set_cuda_graphs(true);
  const auto graphed = m.detect({images[0].cuda()});
  const auto again = m.detect({images[0].cuda()});
  set_cuda_graphs(false);
  CHECK(m.graphed_trunk->captures() == 1);
  REQUIRE(graphed[0].boxes.size(0) == eager[0].boxes.size(0));
  CHECK(count_mismatches(graphed[0].boxes.cpu(), eager[0].boxes.cpu(), 0, 0, "detections") == 0);
  CHECK(count_mismatches(again[0].scores.cpu(), eager[0].scores.cpu(), 0, 0, "scores on the second replay") == 0);
}

TEST_CASE("CUDA graph capture refuses a host upload inside the captured work, and leaves the allocator usable") {
  if (!real_gpu()) return;
  cuda::CudaGraph g(0);
  CHECK_THROWS_WITH_AS(g.capture([] { return std::vector<Tensor>{Tensor::from_vector<float>({1, 2, 3}, {3}).cuda()}; }),
                       doctest::Contains("between host and device inside the captured work"), std::runtime_error);
  CHECK(!g.captured());
  const Tensor t = add(on_gpu(randn({1000}, 70)), 1.0);  // the shared cache serves again
  CHECK(t.cpu().numel() == 1000);
}
#endif  // MRC_WITH_CUDA

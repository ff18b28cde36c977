// CUDA vs CPU on the shapes that break launch code: empty batches, empty sums (K = 0), empty rows and
// dims, zero ROIs / boxes / picks (a zero-sized grid is a launch error on CUDA, and cuDNN rejects zero-sized
// descriptors); and ROIAlign / multi-scale ROIAlign as tensor ops with autograd on a non-contiguous map.
// Skips without a GPU; MRC_TEST_FAKE_GPU=1 runs the CPU on both sides to check the test itself.
#ifdef MRC_WITH_CUDA
#include <doctest/doctest.h>

#include "cuda_test_util.h"
#include "kernels/multiscale_roi/multiscale_roi.h"
#include "kernels/multiscale_roi/multiscale_roi_op.h"
#include "kernels/roi_align/roi_align.h"
#include "test_util.h"

using namespace mrc;
using namespace mrc::test;

namespace {

const Tolerance kExact{0, 0};

// K x 5 float32 ROIs (batch index, x1, y1, x2, y2) inside an image of size x size, batch indices < n.
Tensor rois(int64_t k, int64_t n, double size, uint64_t seed) {
  Generator g(seed);
  const Tensor xy = Tensor::uniform({k, 2}, 0, 0.7 * size, &g, DType::Float32);
  const Tensor wh = Tensor::uniform({k, 2}, 1, 0.3 * size, &g, DType::Float32);
  std::vector<float> v;
  const std::vector<float> a = xy.to_vector<float>(), b = wh.to_vector<float>();
  for (int64_t i = 0; i < k; ++i) {
    const float x = a[size_t(2 * i)], y = a[size_t(2 * i + 1)];
    v.insert(v.end(), {float(i % n), x, y, x + b[size_t(2 * i)], y + b[size_t(2 * i + 1)]});
  }
  return Tensor::from_vector(v, {k, 5});
}

}  // namespace

TEST_CASE("empty batches and empty sums: conv2d, conv_transpose2d, matmul, addmm, linear") {
  if (!gpu()) return;
  for (DType dt : {DType::Float32, DType::Float64}) {
    const std::string tag = std::string(" ") + dtype_name(dt);
    // N = 0: the output is empty, the weight and bias gradients are zeros
    check_op("conv2d N=0" + tag,
             [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], 1, 1); },
             {param({0, 3, 8, 8}, 1, dt), param({4, 3, 3, 3}, 2, dt), param({4}, 3, dt)}, kExact, kExact);
    check_op("conv_transpose2d N=0" + tag,
             [](const std::vector<Tensor>& in) { return conv_transpose2d(in[0], in[1], in[2], 2); },
             {param({0, 4, 7, 7}, 4, dt), param({4, 3, 2, 2}, 5, dt), param({3}, 6, dt)}, kExact, kExact);
    // K = 0: zeros, or the bias alone where the product is added to one
    check_op("matmul K=0" + tag, [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
             {param({3, 0}, 7, dt), param({0, 4}, 8, dt)}, kExact, kExact);
    check_op("batched matmul K=0" + tag, [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
             {param({2, 3, 0}, 9, dt), param({2, 0, 4}, 10, dt)}, kExact, kExact);
    check_op("addmm K=0" + tag, [](const std::vector<Tensor>& in) { return addmm(in[0], in[1], in[2]); },
             {param({4}, 11, dt), param({3, 0}, 12, dt), param({0, 4}, 13, dt)}, kExact, kExact);
    check_op("linear, no input features" + tag,
             [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
             {param({5, 0}, 14, dt), param({3, 0}, 15, dt), param({3}, 16, dt)}, kExact, kExact);
    // M = 0 / N = 0: empty products
    check_op("matmul M=0" + tag, [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
             {param({0, 5}, 17, dt), param({5, 4}, 18, dt)}, kExact, kExact);
    check_op("matmul N=0" + tag, [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
             {param({3, 5}, 19, dt), param({5, 0}, 20, dt)}, kExact, kExact);
  }
}

TEST_CASE("empty rows and dims: reductions, softmax, sort, topk") {
  if (!gpu()) return;
  const Tensor no_rows = param({0, 6}, 30), no_cols = param({4, 0}, 31);
  check_op("sum over an empty dim", [](const std::vector<Tensor>& in) { return sum(in[0], {1}); }, {no_cols}, kExact,
           kExact);
  check_op("sum of no rows", [](const std::vector<Tensor>& in) { return sum(in[0], {1}); }, {no_rows}, kExact, kExact);
  check_op("sum of nothing", [](const std::vector<Tensor>& in) { return sum(in[0]); }, {no_rows}, kExact, kExact);
  check_op("max of no rows", [](const std::vector<Tensor>& in) { return max(in[0], 1).first; }, {no_rows}, kExact,
           kExact);
  CHECK_THROWS_AS(max(on_gpu(no_cols.detach()), 1), std::invalid_argument);
  for (int64_t dim : {0, 1}) {
    check_op("softmax of no rows, dim " + std::to_string(dim),
             [dim](const std::vector<Tensor>& in) { return softmax(in[0], dim); }, {no_rows}, kExact, kExact);
    check_op("log_softmax of no columns, dim " + std::to_string(dim),
             [dim](const std::vector<Tensor>& in) { return log_softmax(in[0], dim); }, {no_cols}, kExact, kExact);
  }
  check_op("sort of no columns", [](const std::vector<Tensor>& in) { return sort(in[0], 1).first; }, {no_cols},
           kExact, kExact);
  check_op("sort of no rows", [](const std::vector<Tensor>& in) { return sort(in[0], 1, true).first; }, {no_rows},
           kExact, kExact);
  const Tensor x = param({3, 5}, 32);
  check_op("topk k=0", [](const std::vector<Tensor>& in) { return topk(in[0], 0, 1).first; }, {x}, kExact, kExact);
  expect_equal(topk(on_gpu(x.detach()), 0, 1).second, topk(x.detach(), 0, 1).second, "topk k=0 indices");
}

TEST_CASE("empty indices and no hits: gather, scatter_add, index_add, index_copy, nonzero") {
  if (!gpu()) return;
  const Tensor x = param({4, 5}, 40);
  const Tensor no_index = Tensor::empty({4, 0}, DType::Int64);
  check_op("gather with an empty index", [&](const std::vector<Tensor>& in) { return gather(in[0], 1, in[1]); },
           {x, no_index}, kExact, kExact);
  check_op("scatter_add with an empty index",
           [&](const std::vector<Tensor>& in) { return scatter_add(in[0], 1, in[1], in[2]); },
           {x, no_index, param({4, 0}, 41)}, kExact, kExact);
  const Tensor none = Tensor::empty({0}, DType::Int64);
  check_op("index_add with an empty index",
           [&](const std::vector<Tensor>& in) { return index_add(in[0], 0, in[1], in[2]); },
           {x, none, param({0, 5}, 42)}, kExact, kExact);
  check_op("index_copy with an empty index",
           [&](const std::vector<Tensor>& in) { return index_copy(in[0], 1, in[1], in[2]); },
           {x, none, param({4, 0}, 43)}, kExact, kExact);
  const Tensor zeros = Tensor::zeros({3, 4}, DType::Float32);
  expect_equal(nonzero(on_gpu(zeros)), nonzero(zeros), "nonzero with no hits");
  const Tensor empty = Tensor::zeros({0, 4}, DType::Float32);
  expect_equal(nonzero(on_gpu(empty)), nonzero(empty), "nonzero of an empty tensor");
}

TEST_CASE("detection ops with nothing to do: zero ROIs, zero boxes") {
  if (!gpu()) return;
  const Tensor feat = param({2, 3, 10, 12}, 50);
  const Tensor no_rois = Tensor::empty({0, 5}, DType::Float32);
  check_op("roi_align with zero ROIs",
           [](const std::vector<Tensor>& in) { return roi_align(in[0], in[1], 7, 7, 0.5, 2, false); },
           {feat, no_rois}, kExact, kExact);
  const ImageSizes sizes = {{40, 48}};
  check_op("multiscale_roi_align with zero ROIs",
           [&](const std::vector<Tensor>& in) {
             return multiscale_roi_align({in[0], in[1]}, in[2], sizes, 7, 7, 2);
           },
           {param({1, 3, 10, 12}, 51), param({1, 3, 5, 6}, 52), no_rois}, kExact, kExact);
  const Tensor no_boxes = Tensor::empty({0, 4}, DType::Float32), no_scores = Tensor::empty({0}, DType::Float32);
  expect_equal(nms(on_gpu(no_boxes), on_gpu(no_scores), 0.5), nms(no_boxes, no_scores, 0.5), "nms of no boxes");
  const Tensor no_idxs = Tensor::empty({0}, DType::Int64);
  expect_equal(batched_nms(on_gpu(no_boxes), on_gpu(no_scores), on_gpu(no_idxs), 0.5),
               batched_nms(no_boxes, no_scores, no_idxs, 0.5), "batched_nms of no boxes");
}

TEST_CASE("roi_align and multiscale_roi_align as tensor ops: forward and backward, non-contiguous map") {
  if (!gpu()) return;
  // the backward adds with atomics on CUDA, in ROI order on the CPU: same terms, different order
  const Tolerance fwd{1e-5, 1e-5}, bwd{1e-4, 1e-4};
  Tensor map_t = param({2, 6, 24, 20}, 60).detach().transpose(2, 3);  // [2, 6, 20, 24], not contiguous
  map_t.requires_grad_(true);
  const Tensor r = rois(40, 2, 4 * 20.0, 61);
  for (bool aligned : {false, true}) {
    for (int64_t sampling : {int64_t(2), int64_t(0)}) {
      const std::string tag = std::string(aligned ? " aligned" : "") + " sampling " + std::to_string(sampling);
      check_op("roi_align" + tag,
               [=](const std::vector<Tensor>& in) { return roi_align(in[0], in[1], 7, 7, 0.25, sampling, aligned); },
               {map_t, r}, fwd, bwd);
    }
  }
  // three levels (strides 4, 8, 16) for a 128 x 160 image; sides from 4 to 400 pixels map to all three
  const Tensor l0 = param({1, 4, 32, 40}, 62), l1 = param({1, 4, 16, 20}, 63), l2 = param({1, 4, 8, 10}, 64);
  Generator g(65);
  const Tensor xy = Tensor::uniform({30, 2}, 0, 100, &g, DType::Float32);
  const Tensor side = exp(Tensor::uniform({30, 2}, std::log(4.0), std::log(400.0), &g, DType::Float32));
  const Tensor boxes = cat({xy, add(xy, side)}, 1);
  const Tensor mr = cat({Tensor::zeros({30, 1}, DType::Float32), boxes}, 1);
  const ImageSizes sizes = {{128, 160}};
  check_op("multiscale_roi_align",
           [&](const std::vector<Tensor>& in) {
             return multiscale_roi_align({in[0], in[1], in[2]}, in[3], sizes, 7, 7, 2);
           },
           {l0, l1, l2, mr}, fwd, bwd);
}

TEST_CASE("ROIAlign's deterministic CUDA backward: the same bits run to run, close to the CPU") {
  if (!real_gpu()) return;  // a switch of the CUDA kernels
  struct Restore {
    ~Restore() { kernels::set_roi_align_deterministic(false); }
  } restore;
  kernels::set_roi_align_deterministic(true);
  const Tolerance fwd{1e-5, 1e-5}, bwd{1e-4, 1e-4};
  const Tensor map = param({2, 6, 20, 24}, 70);
  const Tensor r = rois(300, 2, 4 * 20.0, 71);  // many overlapping ROIs: atomics would reorder the sums
  const auto f = [](const std::vector<Tensor>& in) { return roi_align(in[0], in[1], 7, 7, 0.25, 2, true); };
  check_op("roi_align deterministic", f, {map, r}, fwd, bwd);
  auto grad_on_gpu = [&] {
    const Tensor m = on_gpu(map.detach()).requires_grad_(true);
    const Tensor out = f({m, on_gpu(r)});
    return grad(sum(mul(out, on_gpu(randn(out.shape(), 72)))), {m})[0];
  };
  expect_equal(grad_on_gpu(), grad_on_gpu(), "roi_align deterministic gradient, run to run");

  const Tensor l0 = param({1, 4, 32, 40}, 73), l1 = param({1, 4, 16, 20}, 74);
  const Tensor mr = rois(200, 1, 128.0, 75);
  const ImageSizes sizes = {{128, 160}};
  const auto fm = [&](const std::vector<Tensor>& in) { return multiscale_roi_align({in[0], in[1]}, in[2], sizes, 7, 7, 2); };
  check_op("multiscale_roi_align deterministic", fm, {l0, l1, mr}, fwd, bwd);
  auto ms_grads_on_gpu = [&] {
    const Tensor a = on_gpu(l0.detach()).requires_grad_(true), b = on_gpu(l1.detach()).requires_grad_(true);
    const Tensor out = fm({a, b, on_gpu(mr)});
    return grad(sum(mul(out, on_gpu(randn(out.shape(), 76)))), {a, b});
  };
  const std::vector<Tensor> g1 = ms_grads_on_gpu(), g2 = ms_grads_on_gpu();
  for (size_t i = 0; i < g1.size(); ++i) expect_equal(g1[i], g2[i], "multiscale deterministic gradient, run to run");
}

// Runs without a GPU: the raw entry points refuse a bad pyramid before any device work, as the CPU ones do
// (a level with fewer channels than level 0 would be read and written out of bounds).
TEST_CASE("multi-scale ROIAlign's CUDA entry points check the pyramid like the CPU ones") {
  using namespace mrc::kernels;
  const Pyramid pyr = infer_pyramid({{1, 4, 8, 8}, {1, 3, 4, 4}}, {{32, 32}});
  const RoiAlignParams p{7, 7, 1.0, 2, false};
  const float* features[2] = {nullptr, nullptr};
  float* grads[2] = {nullptr, nullptr};
  const float roi[5] = {0, 1, 1, 9, 9};
  std::vector<float> out(4 * 49);
  CHECK_THROWS_WITH_AS(multiscale_roi_align_forward_cpu(features, pyr, roi, 1, p, out.data()),
                       doctest::Contains("channel count"), std::runtime_error);
  CHECK_THROWS_WITH_AS(multiscale_roi_align_forward_cuda(features, pyr, nullptr, 1, p, nullptr, nullptr),
                       doctest::Contains("channel count"), std::runtime_error);
  CHECK_THROWS_WITH_AS(multiscale_roi_align_backward_cuda(nullptr, pyr, nullptr, 1, p, grads, nullptr),
                       doctest::Contains("channel count"), std::runtime_error);
}

#endif  // MRC_WITH_CUDA

// CUDA network ops vs CPU, forward and backward: max_pool2d, nearest upsampling, bilinear interpolation,
// adaptive average pooling, batch norm (training statistics and running-stat updates, eval), frozen
// batch norm, group norm, softmax / log_softmax on every kernel shape, and the losses.
#ifdef MRC_WITH_CUDA
#include <doctest/doctest.h>

#include <cmath>

#include "cuda_test_util.h"
#include "test_util.h"

using namespace mrc;
using namespace mrc::test;

namespace {

Tolerance tol(DType t) { return t == DType::Float32 ? Tolerance{1e-5, 1e-5} : Tolerance{1e-12, 1e-12}; }
const DType kFloats[] = {DType::Float32, DType::Float64};

}  // namespace

TEST_CASE("max_pool2d, upsample_nearest2d, interpolate_bilinear, adaptive_avg_pool2d") {
  if (!gpu()) return;
  for (DType dt : kFloats) {
    const std::string tag = std::string(" ") + dtype_name(dt);
    const Tensor x = param({2, 3, 11, 13}, 1, dt);
    check_op("max_pool 3x3 s2 p1" + tag, [](const std::vector<Tensor>& in) { return max_pool2d(in[0], 3, 2, 1); }, {x},
             {0, 0}, {0, 0});
    check_op("max_pool 2x2 ceil" + tag,
             [](const std::vector<Tensor>& in) { return max_pool2d(in[0], 2, 2, 0, 1, true); }, {x}, {0, 0}, {0, 0});
    check_op("max_pool 1x1 s2 (FPN)" + tag, [](const std::vector<Tensor>& in) { return max_pool2d(in[0], 1, 2); }, {x},
             {0, 0}, {0, 0});
    check_op("max_pool dilated" + tag,
             [](const std::vector<Tensor>& in) { return max_pool2d(in[0], 3, 1, 1, 2); }, {x}, {0, 0}, {0, 0});
    check_op("upsample x2" + tag, [](const std::vector<Tensor>& in) { return upsample_nearest2d(in[0], 2, 2); }, {x},
             {0, 0}, tol(dt));
    // a plane larger than one warp's round, with NaN in a window row: the CPU's first-NaN-per-row rule
    Tensor xn = randn({1, 2, 40, 45}, 3, dt);
    xn.narrow(2, 7, 1).narrow(3, 10, 3).fill_(NAN);
    xn.requires_grad_(true);  // the gradient shows which element each window chose
    check_op("max_pool NaN" + tag, [](const std::vector<Tensor>& in) { return max_pool2d(in[0], 3, 2, 1); }, {xn},
             {0, 0}, {0, 0});
    for (bool ac : {false, true}) {
      const std::string t2 = tag + (ac ? " align_corners" : "");
      check_op("bilinear up" + t2,
               [ac](const std::vector<Tensor>& in) { return interpolate_bilinear(in[0], 23, 17, ac); }, {x}, tol(dt),
               tol(dt));
      check_op("bilinear down" + t2,
               [ac](const std::vector<Tensor>& in) { return interpolate_bilinear(in[0], 5, 4, ac); }, {x}, tol(dt),
               tol(dt));
    }
    check_op("adaptive avg 1x1" + tag, [](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], 1, 1); },
             {x}, {0, 0}, {0, 0});
    check_op("adaptive avg 4x5" + tag, [](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], 4, 5); },
             {x}, {0, 0}, {0, 0});
  }
  // ties inside a window: the gradient goes to the first maximum on both devices
  const Tensor ties = Tensor::randint(0, 2, {1, 2, 8, 8}, nullptr, DType::Float64).requires_grad_(true);
  check_op("max_pool ties", [](const std::vector<Tensor>& in) { return max_pool2d(in[0], 3, 2, 1); }, {ties}, {0, 0},
           {0, 0});
  // a non-contiguous input
  const Tensor xt = param({2, 3, 9, 7}, 2).transpose(2, 3);
  check_op("max_pool transposed input", [](const std::vector<Tensor>& in) { return max_pool2d(in[0], 2, 2); }, {xt},
           {0, 0}, tol(DType::Float32));
}

TEST_CASE("batch_norm (training with running stats, eval), frozen batch norm, group norm") {
  if (!gpu()) return;
  for (DType dt : kFloats) {
    const std::string tag = std::string(" ") + dtype_name(dt);
    const Tensor x = param({4, 3, 5, 6}, 10, dt), w = param({3}, 11, dt), b = param({3}, 12, dt);
    // training: the output and gradients, and the in-place running-stat updates
    const Tensor rm = randn({3}, 13, dt), rv = add(abs(randn({3}, 14, dt)), 0.5);
    Tensor rm_cpu = rm.clone(), rv_cpu = rv.clone(), rm_gpu = on_gpu(rm), rv_gpu = on_gpu(rv);
    // check_op calls f on the CPU inputs first, then on the device copies
    int calls = 0;
    check_op("batch_norm train" + tag,
             [&](const std::vector<Tensor>& in) {
               const bool on_gpu = calls++ == 1;
               return batch_norm(in[0], in[1], in[2], on_gpu ? rm_gpu : rm_cpu, on_gpu ? rv_gpu : rv_cpu, true, 0.1,
                                 1e-5);
             },
             {x, w, b}, tol(dt), tol(dt));
    CHECK(calls == 2);
    expect_close(rm_gpu, rm_cpu, tol(dt).atol, tol(dt).rtol, "running_mean update" + tag);
    expect_close(rv_gpu, rv_cpu, tol(dt).atol, tol(dt).rtol, "running_var update" + tag);
    calls = 0;
    check_op("batch_norm eval" + tag,
             [&](const std::vector<Tensor>& in) {
               const bool on_gpu = calls++ == 1;
               return batch_norm(in[0], in[1], in[2], on_gpu ? rm_gpu : rm_cpu, on_gpu ? rv_gpu : rv_cpu, false);
             },
             {x, w, b}, tol(dt), tol(dt));
    calls = 0;
    check_op("frozen_batch_norm" + tag,
             [&](const std::vector<Tensor>& in) {
               const bool on_gpu = calls++ == 1;
               return frozen_batch_norm(in[0], in[1].detach(), in[2].detach(), on_gpu ? rm_gpu : rm_cpu,
                                        on_gpu ? rv_gpu : rv_cpu);
             },
             {x, w, b}, tol(dt), tol(dt));
    const Tensor xg = param({2, 8, 5, 4}, 15, dt), wg = param({8}, 16, dt), bg = param({8}, 17, dt);
    for (int64_t groups : {1, 4, 8})
      check_op("group_norm " + std::to_string(groups) + tag,
               [groups](const std::vector<Tensor>& in) { return group_norm(in[0], groups, in[1], in[2]); }, {xg, wg, bg},
               tol(dt), tol(dt));
  }
}

TEST_CASE("softmax and log_softmax: short rows, long rows, inner dims, -inf and NaN rows") {
  if (!gpu()) return;
  for (DType dt : kFloats) {
    const Tolerance t = dt == DType::Float32 ? Tolerance{1e-6, 1e-5} : Tolerance{1e-13, 1e-12};
    for (const auto& [shape, dim] : std::vector<std::pair<Shape, int64_t>>{
             {{64, 91}, 1}, {{5, 3000}, 1}, {{2, 21, 7, 9}, 1}, {{4, 6, 5}, 0}, {{7}, 0}}) {
      const Tensor x = param(shape, 20, dt);
      const std::string tag = shape_str(shape) + " dim " + std::to_string(dim) + " " + dtype_name(dt);
      check_op("softmax " + tag, [dim](const std::vector<Tensor>& in) { return softmax(in[0], dim); }, {x}, t, t);
      check_op("log_softmax " + tag, [dim](const std::vector<Tensor>& in) { return log_softmax(in[0], dim); }, {x}, t, t);
    }
    // large logits do not overflow; a row of -inf and a row with NaN give NaN rows
    Tensor special = mul(randn({4, 2000}, 21, dt), 300.0);
    special.narrow(0, 1, 1).fill_(-INFINITY);
    special.narrow(0, 2, 1).narrow(1, 1500, 1).fill_(NAN);
    for (int64_t cols : {int64_t(7), int64_t(2000)}) {
      const Tensor s = special.narrow(1, 0, cols).contiguous();
      expect_close(softmax(on_gpu(s), 1), softmax(s, 1), t.atol, t.rtol, "softmax special rows");
      expect_close(log_softmax(on_gpu(s), 1), log_softmax(s, 1), t.atol, t.rtol, "log_softmax special rows");
    }
  }
}

TEST_CASE("losses: cross_entropy (weights, ignore_index), BCE with logits, smooth L1, L1") {
  if (!gpu()) return;
  for (DType dt : kFloats) {
    const Tolerance t = dt == DType::Float32 ? Tolerance{1e-6, 1e-5} : Tolerance{1e-13, 1e-12};
    const std::string tag = std::string(" ") + dtype_name(dt);
    const Tensor logits = param({32, 5}, 30, dt);
    Generator g(31);
    Tensor target = Tensor::randint(0, 5, {32}, &g, DType::Int64);
    target.narrow(0, 3, 4).fill_(-100);
    const Tensor weight = add(abs(randn({5}, 32, dt)), 0.1);
    for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
      check_op("cross_entropy" + tag,
               [r](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], Tensor(), -100, r); },
               {logits, target}, t, t);
      check_op("cross_entropy weighted" + tag,
               [r](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], in[2], -100, r); },
               {logits, target, weight}, t, t);
    }
    const Tensor seg = param({2, 3, 4, 5}, 33, dt);
    const Tensor seg_target = Tensor::randint(0, 3, {2, 4, 5}, &g, DType::Int64);
    check_op("cross_entropy spatial" + tag,
             [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1]); }, {seg, seg_target}, t, t);
    const Tensor x = param({6, 28, 28}, 34, dt);
    const Tensor y = Tensor::randint(0, 2, {6, 28, 28}, &g, DType::Int64).to(dt);
    check_op("bce_with_logits" + tag,
             [](const std::vector<Tensor>& in) { return binary_cross_entropy_with_logits(in[0], in[1]); }, {x, y}, t, t);
    const Tensor bw = add(abs(randn({28}, 35, dt)), 0.1);
    check_op("bce_with_logits weighted sum" + tag,
             [](const std::vector<Tensor>& in) {
               return binary_cross_entropy_with_logits(in[0], in[1], in[2], Reduction::Sum);
             },
             {x, y, bw}, t, t);
    const Tensor p = param({40, 4}, 36, dt), q = randn({40, 4}, 37, dt);
    check_op("smooth_l1 beta 1/9" + tag,
             [](const std::vector<Tensor>& in) { return smooth_l1_loss(in[0], in[1], 1.0 / 9, Reduction::Sum); }, {p, q},
             t, t);
    check_op("l1" + tag, [](const std::vector<Tensor>& in) { return l1_loss(in[0], in[1]); }, {p, q}, t, t);
  }
}

#endif  // MRC_WITH_CUDA

// CUDA matmul (cuBLAS) and convolution (cuDNN) vs CPU, forward and backward: every operand layout the
// GEMM reads in place, broadcast batches, linear / addmm; conv2d with stride, padding, dilation, groups
// and bias; conv_transpose2d with output_padding. float64 checks the math tightly; float32 allows the
// different summation orders (and cuDNN's transform algorithms) of the two backends.
#ifdef MRC_WITH_CUDA
#include <doctest/doctest.h>

#include "cuda_test_util.h"
#include "tensor/precision.h"
#include "test_util.h"

using namespace mrc;
using namespace mrc::test;

namespace {

Tolerance gemm_tol(DType t) { return t == DType::Float32 ? Tolerance{1e-4, 1e-4} : Tolerance{1e-11, 1e-11}; }
Tolerance conv_tol(DType t) { return t == DType::Float32 ? Tolerance{5e-4, 5e-4} : Tolerance{1e-10, 1e-10}; }

}  // namespace

TEST_CASE("matmul: layouts, batches, broadcasting, vectors") {
  if (!gpu()) return;
  for (DType dt : {DType::Float32, DType::Float64}) {
    const Tolerance tol = gemm_tol(dt);
    const std::string tag = std::string(" ") + dtype_name(dt);
    struct Case {
      const char* name;
      Shape a, b;
      bool ta, tb;  // operand stored transposed (column-major to the GEMM)
    };
    const std::vector<Case> cases = {
        {"2d", {17, 33}, {33, 9}, false, false},   {"2d a^T", {33, 17}, {33, 9}, true, false},
        {"2d b^T", {17, 33}, {9, 33}, false, true}, {"2d both^T", {33, 17}, {9, 33}, true, true},
        {"batched", {4, 17, 33}, {4, 33, 9}, false, false},
        {"broadcast batch", {3, 1, 5, 6}, {4, 6, 7}, false, false},
        {"shared b", {5, 8, 16}, {16, 3}, false, false},
        {"matrix-vector", {12, 20}, {20}, false, false},
        {"vector-matrix", {20}, {20, 12}, false, false},
        {"large", {256, 300}, {300, 200}, false, false},
    };
    for (const Case& c : cases) {
      const Tensor a = param(c.a, 1, dt), b = param(c.b, 2, dt);
      check_op(c.name + tag,
               [&](const std::vector<Tensor>& in) {
                 const Tensor x = c.ta ? in[0].transpose(-1, -2) : in[0];
                 const Tensor y = c.tb ? in[1].transpose(-1, -2) : in[1];
                 return matmul(x, y);
               },
               {a, b}, tol, tol);
    }
    // a sliced operand (row-major with a leading dimension larger than its width)
    const Tensor wide = param({10, 40}, 3, dt), m = param({15, 7}, 4, dt);
    check_op("sliced operand" + tag, [](const std::vector<Tensor>& in) { return matmul(in[0].narrow(1, 5, 15), in[1]); },
             {wide, m}, tol, tol);
    const Tensor x = param({6, 11}, 5, dt), w = param({7, 11}, 6, dt), bias = param({7}, 7, dt);
    check_op("linear" + tag, [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }, {x, w, bias},
             tol, tol);
    const Tensor x3 = param({2, 4, 11}, 8, dt);
    check_op("linear 3-d, no bias" + tag, [](const std::vector<Tensor>& in) { return linear(in[0], in[1]); }, {x3, w},
             tol, tol);
    const Tensor c0 = param({6, 7}, 9, dt);
    check_op("addmm" + tag, [](const std::vector<Tensor>& in) { return addmm(in[0], in[1], in[2].t()); }, {c0, x, w},
             tol, tol);
  }
  // TF32 is off by default: a product of float32 values with long mantissas matches FP32 closely
  CHECK(!cuda::allow_tf32());
}

TEST_CASE("conv2d: stride, padding, dilation, groups, bias; forward and backward") {
  if (!gpu()) return;
  struct Case {
    const char* name;
    Shape x, w;
    Int2 stride, pad, dil;
    int64_t groups;
    bool bias;
  };
  const std::vector<Case> cases = {
      {"3x3 pad 1", {2, 4, 9, 11}, {6, 4, 3, 3}, 1, 1, 1, 1, true},
      {"1x1", {2, 8, 7, 7}, {5, 8, 1, 1}, 1, 0, 1, 1, false},
      {"7x7 stride 2 pad 3", {1, 3, 20, 18}, {4, 3, 7, 7}, 2, 3, 1, 1, false},
      {"3x3 stride 2 uneven", {2, 3, 10, 9}, {4, 3, 3, 3}, {2, 1}, {1, 0}, 1, 1, true},
      {"dilated", {1, 2, 12, 12}, {3, 2, 3, 3}, 1, 2, 2, 1, true},
      {"groups 2", {2, 4, 8, 8}, {6, 2, 3, 3}, 1, 1, 1, 2, true},
      {"depthwise", {1, 6, 8, 8}, {6, 1, 3, 3}, 1, 1, 1, 6, false},
  };
  for (DType dt : {DType::Float32, DType::Float64}) {
    for (const Case& c : cases) {
      const Tensor x = param(c.x, 10, dt), w = param(c.w, 11, dt);
      const Tensor b = c.bias ? param({c.w[0]}, 12, dt) : Tensor();
      check_op(std::string(c.name) + " " + dtype_name(dt),
               [&](const std::vector<Tensor>& in) {
                 return conv2d(in[0], in[1], in[2], c.stride, c.pad, c.dil, c.groups);
               },
               {x, w, b}, conv_tol(dt), conv_tol(dt));
    }
  }
}

TEST_CASE("conv_transpose2d: stride, padding, output_padding, groups; forward and backward") {
  if (!gpu()) return;
  struct Case {
    const char* name;
    Shape x, w;
    Int2 stride, pad, out_pad;
    int64_t groups;
  };
  const std::vector<Case> cases = {
      {"2x2 stride 2 (mask head)", {2, 4, 7, 7}, {4, 3, 2, 2}, 2, 0, 0, 1},
      {"3x3 stride 2 pad 1 out_pad 1", {1, 3, 5, 6}, {3, 2, 3, 3}, 2, 1, 1, 1},
      {"groups 2", {1, 4, 5, 5}, {4, 3, 3, 3}, 1, 1, 0, 2},
  };
  for (DType dt : {DType::Float32, DType::Float64}) {
    for (const Case& c : cases) {
      const Tensor x = param(c.x, 20, dt), w = param(c.w, 21, dt), b = param({c.w[1] * c.groups}, 22, dt);
      check_op(std::string(c.name) + " " + dtype_name(dt),
               [&](const std::vector<Tensor>& in) {
                 return conv_transpose2d(in[0], in[1], in[2], c.stride, c.pad, c.out_pad, c.groups);
               },
               {x, w, b}, conv_tol(dt), conv_tol(dt));
    }
  }
}

TEST_CASE("conv2d algorithm choice is cached and reused without allocator calls") {
  if (!real_gpu()) return;
  const Tensor x = on_gpu(randn({2, 16, 28, 28}, 30)), w = on_gpu(randn({32, 16, 3, 3}, 31));
  const Tensor y = conv2d(x, w, Tensor(), 1, 1).cpu();
  const uint64_t mallocs = cuda_mallocs();
  for (int i = 0; i < 3; ++i) {
    Tensor again = conv2d(x, w, Tensor(), 1, 1);
    expect_equal(again, y, "repeated conv2d is deterministic");
  }
  CHECK(cuda_mallocs() == mallocs);
}

#endif  // MRC_WITH_CUDA

TEST_CASE("PRECISION tf32 and bf16: conv2d, matmul and linear near the CPU's fp32, forward and backward") {
  if (!real_gpu()) return;  // the math mode is CUDA's; the CPU refuses tf32/bf16
  struct Restore {
    ~Restore() { set_precision(Precision::FP32, Device::cuda(0)); }
  } restore;
  const Tensor x = param({2, 4, 9, 11}, 30), w = param({6, 4, 3, 3}, 31), b = param({6}, 32);
  const Tensor a = param({5, 37}, 33), m = param({37, 6}, 34), lw = param({7, 37}, 35), lb = param({7}, 36);
  // bf16 keeps 8 mantissa bits (relative rounding 2^-9), TF32 11 (2^-11); sums of 36-37 products of normal values
  for (const auto& [p, tol] : {std::pair{Precision::TF32, Tolerance{1e-2, 5e-3}}, std::pair{Precision::BF16, Tolerance{6e-2, 2e-2}}}) {
    set_precision(p, Device::cuda(0));
    const std::string tag = std::string(" ") + precision_name(p);
    check_op("conv2d 3x3" + tag,
             [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], 1, 1, 1, 1); }, {x, w, b}, tol, tol);
    check_op("matmul" + tag, [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, m}, tol, tol);
    check_op("linear" + tag, [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }, {a, lw, lb}, tol,
             tol);
    // the rounding shows: the result is not the fp32 one bit for bit
    const Tensor fast = matmul(on_gpu(a), on_gpu(m)).to(Device::cpu());
    set_precision(Precision::FP32, Device::cuda(0));
    const Tensor strict = matmul(on_gpu(a), on_gpu(m)).to(Device::cpu());
    CHECK(max(abs(sub(fast, strict))).item_double() > 0);
  }
}

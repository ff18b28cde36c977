// Helpers of the CUDA-vs-CPU tests: compare a CUDA result with its CPU reference
// (|got - ref| <= atol + rtol * |ref|, NaN only where the reference has NaN; the first mismatches and the
// max error are printed), and run an op forward and backward on both devices from the same inputs.
#pragma once
#ifdef MRC_WITH_CUDA
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "tensor/cuda/allocator.h"
#include "tensor/cuda/context.h"

namespace mrc::test {

// Skipping: these binaries are linked with tests/doctest_main.cpp's GPU gate (MRC_CUDA_TEST_MAIN): without a
// visible CUDA device, or in a build without CUDA, they exit with code 77 before running any case, and ctest
// reports them as skipped (SKIP_RETURN_CODE in CMakeLists.txt), never as passed. gpu() and real_gpu() below
// stay for the dry run.
//
// MRC_TEST_FAKE_GPU=1 runs every comparison with the "GPU" side on the CPU as well: it checks the tests
// themselves (shapes, arguments, reference paths) on a machine without a GPU, and proves nothing about CUDA.
// So it is a dry run only: the gate refuses it (exit 1, one line on stderr) unless MRC_GPU_DRY_RUN=1 is set
// too, as scripts/gpu-check --dry-run does. Allocator tests (real_gpu()) skip then.
inline bool fake_gpu() {
  static const bool on = [] {
    const char* e = std::getenv("MRC_TEST_FAKE_GPU");
    return e && std::string(e) == "1";
  }();
  return on;
}

// The device the tests compare against the CPU.
inline Device gpu_device() { return fake_gpu() ? Device::cpu() : Device::cuda(0); }
inline Tensor on_gpu(const Tensor& t) { return t.to(gpu_device()); }

// False (after a message) when no CUDA device is visible: the calling test returns without asserting.
inline bool gpu() {
  if (fake_gpu() || cuda_available()) return true;
  MESSAGE("skipped: no CUDA device visible (cuda_device_count() == 0)");
  return false;
}

// For tests of CUDA-only machinery (allocator statistics): a real device is required.
inline bool real_gpu() {
  if (cuda_available()) return true;
  MESSAGE("skipped: no CUDA device visible (cuda_device_count() == 0)");
  return false;
}

// Number of elements outside the tolerance; prints up to 5 of them and the max error under `what`.
inline int64_t count_mismatches(const Tensor& got, const Tensor& ref, double atol, double rtol, const std::string& what) {
  const std::vector<double> g = got.to_vector<double>(), r = ref.to_vector<double>();
  int64_t bad = 0;
  double max_err = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    const bool gn = std::isnan(g[i]), rn = std::isnan(r[i]);
    bool ok;
    double err = 0;
    if (gn || rn) {
      ok = gn && rn;
    } else if (std::isinf(r[i]) || std::isinf(g[i])) {
      ok = g[i] == r[i];
    } else {
      err = std::fabs(g[i] - r[i]);
      ok = err <= atol + rtol * std::fabs(r[i]);
      max_err = std::max(max_err, err);
    }
    if (!ok && bad++ < 5)
      std::printf("  %s: mismatch at %zu: cuda %.9g cpu %.9g\n", what.c_str(), i, g[i], r[i]);
  }
  if (bad) std::printf("  %s: %lld of %zu elements differ, max abs error %.3g\n", what.c_str(), (long long)bad, r.size(), max_err);
  return bad;
}

// The CUDA result `got` matches the CPU result `ref`: same shape and dtype, values within tolerance.
inline void expect_close(const Tensor& got, const Tensor& ref, double atol, double rtol, const std::string& what) {
  INFO(what);
  REQUIRE(got.defined());
  REQUIRE(ref.defined());
  CHECK(got.device() == gpu_device());
  CHECK(got.shape() == ref.shape());
  CHECK(got.dtype() == ref.dtype());
  if (got.shape() != ref.shape()) return;
  CHECK(count_mismatches(got, ref, atol, rtol, what) == 0);
}

// Bit-for-bit equality (integer results, indices, operations whose order both backends share).
inline void expect_equal(const Tensor& got, const Tensor& ref, const std::string& what) {
  expect_close(got, ref, 0, 0, what);
}

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct Tolerance {
  double atol = 1e-5, rtol = 1e-5;
};

// A device copy of t with t's shape and strides (a non-contiguous CPU view stays non-contiguous).
inline Tensor to_cuda_same_strides(const Tensor& t) {
  if (t.is_contiguous()) return on_gpu(t.detach());
  int64_t span = 1;
  for (int64_t d = 0; d < t.dim(); ++d) span += (t.size(d) - 1) * t.stride(d);
  Tensor wide = Tensor::zeros({std::max<int64_t>(span, 1)}, t.dtype(), gpu_device());
  Tensor v = make_view(wide, t.shape(), t.strides(), 0);
  NoGradGuard ng;
  v.copy_(t.detach());
  return v;
}

// Runs f on the CPU inputs and on CUDA copies of them (same strides); compares the outputs and, for the
// inputs that require grad, d(sum(f(x) * w))/dx with a fixed random w.
inline void check_op(const std::string& what, const OpFn& f, const std::vector<Tensor>& cpu_inputs, Tolerance fwd,
                     Tolerance bwd = {}) {
  std::vector<Tensor> a, b;
  for (const Tensor& t : cpu_inputs) {
    if (!t.defined()) {
      a.emplace_back();
      b.emplace_back();
      continue;
    }
    Tensor dev = to_cuda_same_strides(t);
    Tensor host = t.detach();  // same storage and strides, a leaf
    if (t.requires_grad()) {
      dev.requires_grad_(true);
      host.requires_grad_(true);
    }
    a.push_back(host);
    b.push_back(dev);
  }
  const Tensor out_cpu = f(a);
  const Tensor out_gpu = f(b);
  expect_close(out_gpu, out_cpu, fwd.atol, fwd.rtol, what + " forward");
  std::vector<Tensor> wa, wb;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].defined() && a[i].requires_grad()) {
      wa.push_back(a[i]);
      wb.push_back(b[i]);
    }
  if (wa.empty()) return;
  Generator gen(99);
  const Tensor w = Tensor::randn(out_cpu.shape(), &gen, out_cpu.dtype());
  const std::vector<Tensor> ga = grad(sum(mul(out_cpu, w)), wa);
  const std::vector<Tensor> gb = grad(sum(mul(out_gpu, on_gpu(w))), wb);
  for (size_t i = 0; i < ga.size(); ++i)
    expect_close(gb[i], ga[i], bwd.atol, bwd.rtol, what + " gradient of input " + std::to_string(i));
}

// A random CPU tensor (normal values) that requires grad.
inline Tensor param(const Shape& s, uint64_t seed, DType dt = DType::Float32) {
  Generator g(seed);
  return Tensor::randn(s, &g, dt).requires_grad_(true);
}
inline Tensor randn(const Shape& s, uint64_t seed, DType dt = DType::Float32) {
  Generator g(seed);
  return Tensor::randn(s, &g, dt);
}

inline uint64_t cuda_mallocs() { return cuda::CachingAllocator::get().stats(0).num_cuda_malloc; }

}  // namespace mrc::test
#endif  // MRC_WITH_CUDA

// Index math of the pooling/resampling kernels, shared by the CPU and CUDA backends: the taps and the
// rounding of torch 1.13's CPU bilinear resize (F.interpolate(mode="bilinear"), used by interpolate_bilinear,
// the model's image resize and paste_masks_in_image on both backends) and adaptive pooling windows.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/host_device.h"

namespace mrc::pool {

// One output index of a 1-D linear resize: inputs i0 and i1 (equal at the last input) and their weights.
template <class T>
struct LinearTap {
  int64_t i0, i1;
  T w0, w1;
};

// torch's taps, probed on torch 1.13's CPU kernels with one-hot inputs (every pair of sizes up to 40, up
// and down, forward and backward, one and several channels): scale = T(in) / T(out) divided in T, the source coordinate
// scale * (i + 0.5) - 0.5 (or scale * i with align_corners) kept in double, w1 = its fraction rounded to
// T, w0 = 1 - w1 in T. Rounding the coordinate to float first (what kernels/detection_math.h's copy did)
// or normalising triangle-filter weights in double (masks_op.cpp's copy) each differ from torch by an
// ulp in about a third of the sizes. torch's backward uses these same taps (its one-hot gradients are
// exactly these weights), not a separately rounded lambda, so forward and backward share them here too.
template <class T>
MRC_HOST_DEVICE inline LinearTap<T> linear_tap(int64_t i, int64_t in, int64_t out, bool align_corners) {
  const T scale = align_corners ? (out > 1 ? T(in - 1) / T(out - 1) : T(0)) : T(in) / T(out);
  double src = align_corners ? kernels::mul_rn(double(scale), double(i))
                             : kernels::mul_rn(double(scale), double(i) + 0.5) - 0.5;
  if (src < 0) src = 0;
  int64_t i0 = int64_t(src);
  if (i0 > in - 1) i0 = in - 1;
  double frac = src - double(i0);
  frac = frac < 0 ? 0 : (frac > 1 ? 1 : frac);
  const T w1 = T(frac);
  return {i0, i0 + (i0 < in - 1 ? 1 : 0), T(1) - w1, w1};
}

// The 2-D weight of tap (ky, kx) in {0, 1}^2: the product of the axis weights rounded to T.
template <class T>
MRC_HOST_DEVICE inline T tap_weight(const LinearTap<T>& ty, const LinearTap<T>& tx, int ky, int kx) {
  return kernels::mul_rn(ky ? ty.w1 : ty.w0, kx ? tx.w1 : tx.w0);
}

// a * b + c rounded once, as torch's kernels get it where the compiler fused their multiply-adds.
MRC_HOST_DEVICE inline float fma_rn(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return fmaf(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
MRC_HOST_DEVICE inline double fma_rn(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return ::fma(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

// torch 1.13's CPU forward has two kernels that round differently, picked by memory layout: an NCHW input
// that is channels-last contiguous as well (one channel, or a 1 x 1 plane: masks, paste_masks_in_image)
// goes through the channels-last kernel, every other one (images, feature maps) through the generic one.
MRC_HOST_DEVICE inline bool torch_channels_last_kernel(int64_t channels, int64_t height, int64_t width) {
  return channels == 1 || height * width == 1;
}

// One bilinear output from its four taps, `at(row, col)` reading the input, rounded as torch 1.13's CPU
// forward does (probed on random inputs, sizes and channel counts; float32 bit for bit):
// - generic kernel: each row blended along x as fma(left, w0, right * w1) in T, then the rows along y the
//   same way: fma(top, h0, bottom * h1);
// - channels-last kernel: the four T products of the axis weights, each times its input in double,
//   summed in double in the order (i0, i0), (i0, i1), (i1, i0), (i1, i1), rounded to T once.
// float64 follows the same orders (within an ulp or two of torch there).
template <class T, class At>
MRC_HOST_DEVICE inline T bilinear_value(const LinearTap<T>& ty, const LinearTap<T>& tx, At at, bool channels_last) {
  using kernels::mul_rn;
  if (!channels_last) {
    const T top = fma_rn(at(ty.i0, tx.i0), tx.w0, mul_rn(at(ty.i0, tx.i1), tx.w1));
    const T bottom = fma_rn(at(ty.i1, tx.i0), tx.w0, mul_rn(at(ty.i1, tx.i1), tx.w1));
    return fma_rn(top, ty.w0, mul_rn(bottom, ty.w1));
  }
  double s = mul_rn(double(tap_weight(ty, tx, 0, 0)), double(at(ty.i0, tx.i0)));
  s += mul_rn(double(tap_weight(ty, tx, 0, 1)), double(at(ty.i0, tx.i1)));
  s += mul_rn(double(tap_weight(ty, tx, 1, 0)), double(at(ty.i1, tx.i0)));
  s += mul_rn(double(tap_weight(ty, tx, 1, 1)), double(at(ty.i1, tx.i1)));
  return T(s);
}

// The backward's contribution of gradient g to tap (ky, kx), added to the four inputs in turn, outputs in
// row-major order (CPU and CUDA both keep that order, see pool_cuda.cu, so their gradients are equal bit
// for bit). torch's backward sums in another order: its float32 gradients differ from ours by an ulp or
// two of the largest terms (tests/test_pool.cpp checks 1e-6 of the gradient's scale).
template <class T>
MRC_HOST_DEVICE inline T bilinear_grad(const LinearTap<T>& ty, const LinearTap<T>& tx, int ky, int kx, T g) {
  return kernels::mul_rn(tap_weight(ty, tx, ky, kx), g);
}

// The kernel taps k in [k0, k1) of pooling output o along one axis whose input positions start + k * d
// (start = o * s - p) fall inside [0, size).
struct WindowTaps {
  int64_t start, k0, k1;
};
MRC_HOST_DEVICE inline WindowTaps window_taps(int64_t o, int64_t k, int64_t s, int64_t p, int64_t d, int64_t size) {
  const int64_t start = o * s - p;
  const int64_t k0 = start >= 0 ? 0 : (-start + d - 1) / d;
  int64_t k1 = size - start <= 0 ? 0 : (size - start + d - 1) / d;
  k1 = k1 < k ? k1 : k;
  return {start, k0, k1 > k0 ? k1 : k0};
}

// Adaptive pooling window [start, end) of output index i (torch's rule).
MRC_HOST_DEVICE inline int64_t adaptive_start(int64_t i, int64_t out, int64_t in) { return (i * in) / out; }
MRC_HOST_DEVICE inline int64_t adaptive_end(int64_t i, int64_t out, int64_t in) { return ((i + 1) * in + out - 1) / out; }

}  // namespace mrc::pool

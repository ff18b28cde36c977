// CPU im2col / col2im on blocks: rows [r0, r1) of the column matrix (row r = c * kH * kW + kh * kW + kw
// within one group) and output positions [n0, n1) (n = oh * OW + ow). Working on blocks keeps the
// column buffer cache-sized and lets threads split the work without sharing writes.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/conv/conv.h"

namespace mrc::cpu {

// Sizes of one convolution as the CPU kernels see it: input [N, C, H, W] -> output [N, M, OH, OW].
struct ConvGeom {
  int64_t N = 0, C = 0, H = 0, W = 0;
  int64_t M = 0, OH = 0, OW = 0;
  int64_t KH = 1, KW = 1;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, G = 1;

  int64_t Cg() const { return C / G; }
  int64_t Mg() const { return M / G; }
  int64_t KK() const { return KH * KW; }
  int64_t K() const { return Cg() * KK(); }  // GEMM depth per group
  int64_t P() const { return OH * OW; }      // output positions per image
  int64_t HW() const { return H * W; }
  // The column matrix is the input itself: a 1x1 kernel, stride 1, no padding, same spatial size.
  bool pointwise() const { return KH == 1 && KW == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 && OH == H && OW == W; }
};

// Range of ow whose input column iw = ow * sw + off lies in [0, W): [lo, hi), clamped to [0, OW].
inline void valid_ow(const ConvGeom& g, int64_t off, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
  hi = g.W - off <= 0 ? 0 : (g.W - off + g.sw - 1) / g.sw;
  lo = std::min(lo, g.OW);
  hi = std::clamp(hi, lo, g.OW);
}

// col[(r - r0) * (n1 - n0) + (n - n0)] = x[c, ih, iw] or 0 in the padding; x points at the group's
// first channel of one image.
template <class T>
void im2col_block(const T* x, const ConvGeom& g, int64_t r0, int64_t r1, int64_t n0, int64_t n1, T* col) {
  const int64_t ld = n1 - n0, kk = g.KK();
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t c = r / kk, kh = (r / g.KW) % g.KH, kw = r % g.KW;
    const T* xc = x + c * g.HW();
    T* dst = col + (r - r0) * ld;
    const int64_t off_w = kw * g.dw - g.pw;
    int64_t lo, hi;
    valid_ow(g, off_w, lo, hi);
    int64_t oh = n0 / g.OW, ow = n0 % g.OW, n = n0;
    while (n < n1) {
      const int64_t end = std::min(g.OW, ow + (n1 - n));
      const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
      if (ih < 0 || ih >= g.H) {
        std::fill(dst, dst + (end - ow), T(0));
        dst += end - ow;
      } else {
        const T* src = xc + ih * g.W;
        int64_t o = ow;
        const int64_t a = std::min(end, std::max(o, lo)), b = std::min(end, std::max(a, hi));
        for (; o < a; ++o) *dst++ = T(0);
        if (g.sw == 1) {
          std::memcpy(dst, src + (o + off_w), size_t(b - o) * sizeof(T));
          dst += b - o;
          o = b;
        } else if (g.sw == 2) {  // the common strided case, written so the compiler vectorizes it
          const T* s2 = src + off_w;
          for (int64_t k = 0; k < b - o; ++k) dst[k] = s2[2 * (o + k)];
          dst += b - o;
          o = b;
        } else {
          for (; o < b; ++o) *dst++ = src[o * g.sw + off_w];
        }
        for (; o < end; ++o) *dst++ = T(0);
      }
      n += end - ow;
      ow = 0;
      ++oh;
    }
  }
}

// The adjoint of im2col_block: x[c, ih, iw] += col[...] for every in-range position. Rows must cover
// whole channels when blocks run in parallel, so that no two threads add into one input channel.
template <class T>
void col2im_block(const T* col, const ConvGeom& g, int64_t r0, int64_t r1, int64_t n0, int64_t n1, T* x) {
  const int64_t ld = n1 - n0, kk = g.KK();
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t c = r / kk, kh = (r / g.KW) % g.KH, kw = r % g.KW;
    T* xc = x + c * g.HW();
    const T* src = col + (r - r0) * ld;
    const int64_t off_w = kw * g.dw - g.pw;
    int64_t lo, hi;
    valid_ow(g, off_w, lo, hi);
    int64_t oh = n0 / g.OW, ow = n0 % g.OW, n = n0;
    while (n < n1) {
      const int64_t end = std::min(g.OW, ow + (n1 - n));
      const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
      if (ih >= 0 && ih < g.H) {
        T* dst = xc + ih * g.W;
        const int64_t a = std::min(end, std::max(ow, lo)), b = std::min(end, std::max(a, hi));
        const T* s = src + (a - ow);
        if (g.sw == 1) {
          for (int64_t o = a; o < b; ++o) dst[o + off_w] += *s++;
        } else {
          for (int64_t o = a; o < b; ++o) dst[o * g.sw + off_w] += *s++;
        }
      }
      src += end - ow;
      n += end - ow;
      ow = 0;
      ++oh;
    }
  }
}

// Whether col2im writes every input position exactly once (kernel = stride, no padding or dilation, the
// output tiling the input): then col2im_disjoint_block assigns instead of adding, and needs no zeroed input.
inline bool col2im_disjoint(const ConvGeom& g) {
  return g.KH == g.sh && g.KW == g.sw && g.ph == 0 && g.pw == 0 && g.dh == 1 && g.dw == 1 && g.H == g.OH * g.sh &&
         g.W == g.OW * g.sw;
}

// col2im_block for col2im_disjoint geometries, rows [r0, r1) covering whole (channel, kh) groups of kW rows:
// x[c, oh * sh + kh, ow * sw + kw] = col[...].
template <class T>
void col2im_disjoint_block(const T* col, const ConvGeom& g, int64_t r0, int64_t r1, int64_t n0, int64_t n1, T* x) {
  const int64_t ld = n1 - n0, kk = g.KK();
  for (int64_t r = r0; r < r1; r += g.KW) {
    const int64_t c = r / kk, kh = (r / g.KW) % g.KH;
    T* xc = x + c * g.HW();
    for (int64_t n = n0; n < n1;) {
      const int64_t oh = n / g.OW, ow0 = n % g.OW, ow1 = std::min(g.OW, ow0 + (n1 - n));
      T* __restrict dst = xc + (oh * g.sh + kh) * g.W;
      const T* src = col + (r - r0) * ld + (n - n0) - ow0;
      if (g.KW == 2) {  // the usual 2x2 stride-2 upsampling, written so the compiler vectorizes it
        const T* __restrict a = src;
        const T* __restrict b = src + ld;
        for (int64_t ow = ow0; ow < ow1; ++ow) {
          dst[2 * ow] = a[ow];
          dst[2 * ow + 1] = b[ow];
        }
      } else {
        for (int64_t kw = 0; kw < g.KW; ++kw)
          for (int64_t ow = ow0; ow < ow1; ++ow) dst[ow * g.sw + kw] = src[kw * ld + ow];
      }
      n += ow1 - ow0;
    }
  }
}

}  // namespace mrc::cpu

// ROIAlign's CPU loops, templated on where each ROI reads its features from, so that plain ROIAlign,
// the multi-scale (FPN) pooler and mask-target projection (uint8 masks) share one implementation.
// Include only from .cpp files that turn FMA contraction off (see host_device.h).
#pragma once
#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/detection_math.h"
#include "kernels/roi_align/roi_align.h"
#include "tensor/parallel.h"

namespace mrc::kernels::detail {

// The feature map one ROI samples: contiguous NCHW `data` of `shape`, at `spatial_scale`.
template <class TIn>
struct FeatureView {
  const TIn* data = nullptr;
  FeatureShape shape;
  double spatial_scale = 1.0;
};

// Taps of one sampling point; p1 < 0 marks a point outside the map.
template <class T>
struct Tap {
  int32_t p1, p2, p3, p4;
  T w1, w2, w3, w4;
};

// All sampling points of one ROI in (ph, pw, iy, ix) order.
template <class T>
void precompute_taps(const RoiBins<T>& g, const RoiAlignParams& p, int64_t height, int64_t width,
                     std::vector<Tap<T>>& taps) {
  const int64_t gh = std::max<int64_t>(g.grid_h, 0), gw = std::max<int64_t>(g.grid_w, 0);
  taps.resize(size_t(p.pooled_h * p.pooled_w * gh * gw));
  size_t i = 0;
  for (int64_t ph = 0; ph < p.pooled_h; ++ph)
    for (int64_t pw = 0; pw < p.pooled_w; ++pw)
      for (int64_t iy = 0; iy < gh; ++iy) {
        const T y = g.sample_y(ph, iy);
        for (int64_t ix = 0; ix < gw; ++ix) {
          BilinearTaps<T> b{};
          if (height > 0 && width > 0) b = bilinear_taps(height, width, y, g.sample_x(pw, ix));
          taps[i++] = b.valid ? Tap<T>{int32_t(b.p1), int32_t(b.p2), int32_t(b.p3), int32_t(b.p4), b.w1, b.w2, b.w3, b.w4}
                              : Tap<T>{-1, 0, 0, 0, T(0), T(0), T(0), T(0)};
        }
      }
}

inline int64_t samples_per_bin(int64_t grid_h, int64_t grid_w) {
  return std::max<int64_t>(grid_h, 0) * std::max<int64_t>(grid_w, 0);
}

// Adaptive sampling grows with the box: one millions of pixels wide would ask for terabytes of taps.
// Checked before the parallel loops, which must not throw.
template <class T, class ViewOf>
void check_sampling_grids(const T* rois, int64_t num_rois, const RoiAlignParams& p, ViewOf view_of) {
  for (int64_t k = 0; k < num_rois; ++k) {
    const auto* v = view_of(k);
    if (v == nullptr) continue;
    const RoiBins<T> g = roi_bins(rois + k * 5, T(v->spatial_scale), p.pooled_h, p.pooled_w, p.sampling_ratio, p.aligned);
    const double taps = double(p.pooled_h * p.pooled_w) * double(samples_per_bin(g.grid_h, g.grid_w));
    if (taps > double(int64_t(1) << 28))
      throw std::runtime_error("roi_align: rois[" + std::to_string(k) + "] needs " + std::to_string(g.grid_h) + " x " +
                               std::to_string(g.grid_w) + " sampling points per bin; use a fixed sampling_ratio");
  }
}

// Channels per pass over the ROIs: their feature planes (2 x 256 x 200 x 272 maps: 32 x 217 KB) stay in
// the last-level cache while every ROI reads them, instead of streaming the whole map once per ROI.
inline constexpr int64_t kRoiAlignChannelBlock = 32;

// out[c * bins + b] for channels [c0, c1) of one ROI: bin b averages its taps, in torchvision's order.
// Four channels at a time share each tap load.
template <class T, class TIn>
void pool_channels(const TIn* base, int64_t plane, int64_t c0, int64_t c1, const std::vector<Tap<T>>& taps,
                   int64_t bins, int64_t per_bin, T count, T* out) {
  int64_t c = c0;
  for (; c + 4 <= c1; c += 4, out += 4 * bins) {
    const TIn *i0 = base + c * plane, *i1 = i0 + plane, *i2 = i1 + plane, *i3 = i2 + plane;
    const Tap<T>* t = taps.data();
    for (int64_t b = 0; b < bins; ++b) {
      T a0 = T(0), a1 = T(0), a2 = T(0), a3 = T(0);
      for (int64_t i = 0; i < per_bin; ++i, ++t) {
        if (t->p1 < 0) continue;
        a0 += t->w1 * T(i0[t->p1]) + t->w2 * T(i0[t->p2]) + t->w3 * T(i0[t->p3]) + t->w4 * T(i0[t->p4]);
        a1 += t->w1 * T(i1[t->p1]) + t->w2 * T(i1[t->p2]) + t->w3 * T(i1[t->p3]) + t->w4 * T(i1[t->p4]);
        a2 += t->w1 * T(i2[t->p1]) + t->w2 * T(i2[t->p2]) + t->w3 * T(i2[t->p3]) + t->w4 * T(i2[t->p4]);
        a3 += t->w1 * T(i3[t->p1]) + t->w2 * T(i3[t->p2]) + t->w3 * T(i3[t->p3]) + t->w4 * T(i3[t->p4]);
      }
      out[b] = a0 / count;
      out[bins + b] = a1 / count;
      out[2 * bins + b] = a2 / count;
      out[3 * bins + b] = a3 / count;
    }
  }
  for (; c < c1; ++c, out += bins) {
    const TIn* in = base + c * plane;
    const Tap<T>* t = taps.data();
    for (int64_t b = 0; b < bins; ++b) {
      T acc = T(0);
      for (int64_t i = 0; i < per_bin; ++i, ++t)
        if (t->p1 >= 0) acc += t->w1 * T(in[t->p1]) + t->w2 * T(in[t->p2]) + t->w3 * T(in[t->p3]) + t->w4 * T(in[t->p4]);
      out[b] = acc / count;
    }
  }
}

// output[k] (channels x pooled_h x pooled_w) for every ROI; view_of(k) returns the FeatureView<TIn>*
// ROI k reads, or nullptr for an all-zero output. Batch indices must already be valid.
template <class T, class TIn, class ViewOf>
void roi_align_forward_rois(const T* rois, int64_t num_rois, int64_t channels, const RoiAlignParams& p,
                            ViewOf view_of, T* output) {
  const int64_t bins = p.pooled_h * p.pooled_w;
  if (num_rois == 0 || channels == 0) return;
  check_sampling_grids(rois, num_rois, p, view_of);
  const int threads = omp_in_parallel() ? 1 : int(std::min<int64_t>(mrc::num_threads(), num_rois));
#pragma omp parallel num_threads(threads)
  {
    std::vector<Tap<T>> taps;
    for (int64_t c0 = 0; c0 < channels; c0 += kRoiAlignChannelBlock) {
      const int64_t c1 = std::min(channels, c0 + kRoiAlignChannelBlock);
      // Any ROI-to-thread assignment gives the same bits: each output element is one thread's sum.
#pragma omp for schedule(dynamic, 1)
      for (int64_t k = 0; k < num_rois; ++k) {
        T* out = output + (k * channels + c0) * bins;
        const FeatureView<TIn>* v = view_of(k);
        if (v == nullptr) {
          std::fill(out, out + (c1 - c0) * bins, T(0));
          continue;
        }
        const RoiBins<T> g =
            roi_bins(rois + k * 5, T(v->spatial_scale), p.pooled_h, p.pooled_w, p.sampling_ratio, p.aligned);
        precompute_taps(g, p, v->shape.h, v->shape.w, taps);
        const int64_t plane = v->shape.h * v->shape.w;
        pool_channels(v->data + g.batch * v->shape.c * plane, plane, c0, c1, taps, bins,
                      samples_per_bin(g.grid_h, g.grid_w), g.count, out);
      }
    }
  }
}

// grad[c * plane + tap] += go[c * bins + b] * w / count for channels [c0, c1) of one ROI, in the
// forward's tap order; four channels at a time share each tap load.
template <class T>
void scatter_channels(const T* go, int64_t bins, T* grad, int64_t plane, int64_t c0, int64_t c1,
                      const std::vector<Tap<T>>& taps, int64_t per_bin, T count) {
  auto add = [count](T* gi, T gb, const Tap<T>& t) {
    gi[t.p1] += gb * t.w1 / count;
    gi[t.p2] += gb * t.w2 / count;
    gi[t.p3] += gb * t.w3 / count;
    gi[t.p4] += gb * t.w4 / count;
  };
  int64_t c = c0;
  for (; c + 4 <= c1; c += 4) {
    T *g0 = grad + c * plane, *g1 = g0 + plane, *g2 = g1 + plane, *g3 = g2 + plane;
    const T* o = go + c * bins;
    const Tap<T>* t = taps.data();
    for (int64_t b = 0; b < bins; ++b) {
      const T b0 = o[b], b1 = o[bins + b], b2 = o[2 * bins + b], b3 = o[3 * bins + b];
      for (int64_t i = 0; i < per_bin; ++i, ++t) {
        if (t->p1 < 0) continue;
        add(g0, b0, *t);
        add(g1, b1, *t);
        add(g2, b2, *t);
        add(g3, b3, *t);
      }
    }
  }
  for (; c < c1; ++c) {
    const T* o = go + c * bins;
    const Tap<T>* t = taps.data();
    for (int64_t b = 0; b < bins; ++b)
      for (int64_t i = 0; i < per_bin; ++i, ++t)
        if (t->p1 >= 0) add(grad + c * plane, o[b], *t);
  }
}

// Backward of roi_align_forward_rois: grad_of(k) returns {FeatureView<T>* (shape, scale), T* grad base}
// as a std::pair, or {nullptr, nullptr}. Every grad buffer listed in `grads` (with its shape) is zeroed
// first. Threads split the channels, so every gradient element is summed by one thread in ROI order
// (torchvision's order: bit-identical results).
template <class T, class GradOf>
void roi_align_backward_rois(const T* grad_output, const T* rois, int64_t num_rois, int64_t channels,
                             const RoiAlignParams& p, const std::vector<std::pair<T*, FeatureShape>>& grads,
                             GradOf grad_of) {
  const int64_t bins = p.pooled_h * p.pooled_w;
  check_sampling_grids(rois, num_rois, p, [&](int64_t k) { return grad_of(k).first; });
  mrc::parallel_for(channels, 1, [&](int64_t c0, int64_t c1) {
    for (const auto& [ptr, s] : grads)
      for (int64_t n = 0; n < s.n; ++n)
        std::fill(ptr + (n * s.c + c0) * s.h * s.w, ptr + (n * s.c + c1) * s.h * s.w, T(0));
    std::vector<Tap<T>> taps;
    for (int64_t cb = c0; cb < c1; cb += kRoiAlignChannelBlock) {
      const int64_t ce = std::min(c1, cb + kRoiAlignChannelBlock);
      for (int64_t k = 0; k < num_rois; ++k) {
        const auto [v, grad] = grad_of(k);
        if (v == nullptr) continue;
        const RoiBins<T> g =
            roi_bins(rois + k * 5, T(v->spatial_scale), p.pooled_h, p.pooled_w, p.sampling_ratio, p.aligned);
        const int64_t per_bin = samples_per_bin(g.grid_h, g.grid_w), plane = v->shape.h * v->shape.w;
        if (per_bin == 0) continue;
        precompute_taps(g, p, v->shape.h, v->shape.w, taps);
        scatter_channels(grad_output + k * channels * bins, bins, grad + g.batch * v->shape.c * plane, plane, cb, ce,
                         taps, per_bin, T(g.grid_h * g.grid_w));
      }
    }
  });
}

}  // namespace mrc::kernels::detail

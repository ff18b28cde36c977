// The geometry every detection op shares, once, for g++ and nvcc: ROIAlign's bilinear sampling (and
// its backward weights), box area and IoU, BoxCoder encode/decode, FPN level mapping, anchor shifts and
// the pixels of paste_masks (whose resize taps are pool_math.h's, shared with interpolate_bilinear). Each
// function follows torchvision's arithmetic in the same order, so the CPU files (compiled without FMA
// contraction) reproduce its float results; products that feed a sum go through mul_rn so nvcc cannot
// fuse them and the CUDA kernels round the same way.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/host_device.h"
#include "kernels/pool/pool_math.h"

namespace mrc::kernels {

// std::max / std::min with their exact semantics (the first argument wins ties and NaN comparisons).
template <class T>
MRC_HOST_DEVICE inline T max_of(T a, T b) { return a < b ? b : a; }
template <class T>
MRC_HOST_DEVICE inline T min_of(T a, T b) { return b < a ? b : a; }

// ---- ROIAlign -------------------------------------------------------------------------------------

// Where one ROI's bins and sampling points lie on the feature map (torchvision roi_align_kernel).
template <class T>
struct RoiBins {
  int64_t batch;             // image index: the ROI's first column, truncated like torchvision's int cast
  T start_h, start_w;        // ROI origin in feature coordinates
  T bin_h, bin_w;            // bin size
  int64_t grid_h, grid_w;    // sampling points per bin in each direction
  T count;                   // forward divisor: max(grid_h * grid_w, 1)

  MRC_HOST_DEVICE T sample_y(int64_t ph, int64_t iy) const {
    return start_h + mul_rn(T(ph), bin_h) + mul_rn(T(float(iy) + .5f), bin_h) / T(grid_h);
  }
  MRC_HOST_DEVICE T sample_x(int64_t pw, int64_t ix) const {
    return start_w + mul_rn(T(pw), bin_w) + mul_rn(T(float(ix) + .5f), bin_w) / T(grid_w);
  }
};

// roi = (batch_index, x1, y1, x2, y2) in image coordinates. sampling_ratio <= 0 picks
// ceil(roi_size / pooled_size) points per bin; `aligned` shifts by half a pixel and drops the
// "at least 1x1" clamp of the legacy mode.
template <class T>
MRC_HOST_DEVICE inline RoiBins<T> roi_bins(const T* roi, T spatial_scale, int64_t pooled_h, int64_t pooled_w,
                                           int64_t sampling_ratio, bool aligned) {
  RoiBins<T> g;
  g.batch = int64_t(int(roi[0]));
  const T offset = aligned ? T(0.5) : T(0);
  g.start_w = mul_rn(roi[1], spatial_scale) - offset;
  g.start_h = mul_rn(roi[2], spatial_scale) - offset;
  const T end_w = mul_rn(roi[3], spatial_scale) - offset;
  const T end_h = mul_rn(roi[4], spatial_scale) - offset;
  T roi_w = end_w - g.start_w;
  T roi_h = end_h - g.start_h;
  if (!aligned) {
    roi_w = max_of(roi_w, T(1));
    roi_h = max_of(roi_h, T(1));
  }
  g.bin_h = roi_h / T(pooled_h);
  g.bin_w = roi_w / T(pooled_w);
  g.grid_h = sampling_ratio > 0 ? sampling_ratio : int64_t(int(std::ceil(roi_h / T(pooled_h))));
  g.grid_w = sampling_ratio > 0 ? sampling_ratio : int64_t(int(std::ceil(roi_w / T(pooled_w))));
  const int64_t n = g.grid_h * g.grid_w;
  g.count = T(n > 1 ? n : 1);
  return g;
}

// The four taps of one sampling point: offsets into an H x W plane and their weights. `valid` is false
// for points farther than one pixel outside the map (they contribute nothing, forward or backward).
template <class T>
struct BilinearTaps {
  int64_t p1, p2, p3, p4;
  T w1, w2, w3, w4;
  bool valid;
};

template <class T>
MRC_HOST_DEVICE inline BilinearTaps<T> bilinear_taps(int64_t height, int64_t width, T y, T x) {
  BilinearTaps<T> t{0, 0, 0, 0, T(0), T(0), T(0), T(0), false};
  // Written as !(inside) so NaN coordinates land here instead of reaching the integer casts.
  if (!(y >= T(-1) && y <= T(height) && x >= T(-1) && x <= T(width))) return t;
  if (y <= T(0)) y = T(0);
  if (x <= T(0)) x = T(0);
  int64_t y_low = int64_t(int(y)), x_low = int64_t(int(x)), y_high, x_high;
  if (y_low >= height - 1) {
    y_high = y_low = height - 1;
    y = T(y_low);
  } else {
    y_high = y_low + 1;
  }
  if (x_low >= width - 1) {
    x_high = x_low = width - 1;
    x = T(x_low);
  } else {
    x_high = x_low + 1;
  }
  const T ly = y - T(y_low), lx = x - T(x_low);
  const T hy = T(1) - ly, hx = T(1) - lx;
  t.w1 = hy * hx;
  t.w2 = hy * lx;
  t.w3 = ly * hx;
  t.w4 = ly * lx;
  t.p1 = y_low * width + x_low;
  t.p2 = y_low * width + x_high;
  t.p3 = y_high * width + x_low;
  t.p4 = y_high * width + x_high;
  t.valid = true;
  return t;
}

template <class T, class TIn>
MRC_HOST_DEVICE inline T bilinear_value(const TIn* plane, const BilinearTaps<T>& t) {
  return mul_rn(t.w1, T(plane[t.p1])) + mul_rn(t.w2, T(plane[t.p2])) + mul_rn(t.w3, T(plane[t.p3])) +
         mul_rn(t.w4, T(plane[t.p4]));
}

// One output bin of ROIAlign, summed in torchvision's order (iy outer, ix inner) and averaged.
template <class T, class TIn>
MRC_HOST_DEVICE inline T roi_align_bin(const TIn* plane, int64_t height, int64_t width, const RoiBins<T>& g,
                                       int64_t ph, int64_t pw) {
  T acc = T(0);
  for (int64_t iy = 0; iy < g.grid_h; ++iy) {
    const T y = g.sample_y(ph, iy);
    for (int64_t ix = 0; ix < g.grid_w; ++ix) {
      const BilinearTaps<T> t = bilinear_taps(height, width, y, g.sample_x(pw, ix));
      if (t.valid) acc += bilinear_value(plane, t);
    }
  }
  return acc / g.count;
}

// ---- boxes (x1, y1, x2, y2) -----------------------------------------------------------------------

template <class T>
MRC_HOST_DEVICE inline T box_area(const T* b) { return mul_rn(b[2] - b[0], b[3] - b[1]); }

// IoU given both areas, as torchvision's nms and box_iou compute it (coordinates passed one by one so
// loops over structure-of-arrays boxes vectorise).
template <class T>
MRC_HOST_DEVICE inline T box_iou(T ax1, T ay1, T ax2, T ay2, T area_a, T bx1, T by1, T bx2, T by2, T area_b) {
  const T w = max_of(T(0), min_of(ax2, bx2) - max_of(ax1, bx1));
  const T h = max_of(T(0), min_of(ay2, by2) - max_of(ay1, by1));
  const T inter = mul_rn(w, h);
  return inter / (area_a + area_b - inter);
}
template <class T>
MRC_HOST_DEVICE inline T box_iou(const T* a, T area_a, const T* b, T area_b) {
  return box_iou(a[0], a[1], a[2], a[3], area_a, b[0], b[1], b[2], b[3], area_b);
}

// torchvision compares a float IoU against a double threshold. The largest float <= threshold gives the
// same answer for every float IoU (`iou > t` iff `iou > threshold`) and keeps the comparison in float.
inline float iou_threshold_for(float, double threshold) {
  float t = float(threshold);
  if (double(t) > threshold) t = std::nextafter(t, -INFINITY);
  return t;
}
inline double iou_threshold_for(double, double threshold) { return threshold; }

// BoxCoder weights (wx, wy, ww, wh): (1, 1, 1, 1) for the RPN, (10, 10, 5, 5) for the box head.
struct BoxCoderWeights {
  double wx = 1, wy = 1, ww = 1, wh = 1;
};

// log(1000 / 16): the clamp on decoded dw, dh.
inline constexpr double kBoxXformClip = 4.135166556742356;

// Deltas that turn `proposal` into `reference` (torchvision encode_boxes; widths are x2 - x1).
template <class T>
MRC_HOST_DEVICE inline void box_encode(const T* reference, const T* proposal, T wx, T wy, T ww, T wh, T* out) {
  const T ex_w = proposal[2] - proposal[0], ex_h = proposal[3] - proposal[1];
  const T ex_cx = proposal[0] + mul_rn(T(0.5), ex_w), ex_cy = proposal[1] + mul_rn(T(0.5), ex_h);
  const T gt_w = reference[2] - reference[0], gt_h = reference[3] - reference[1];
  const T gt_cx = reference[0] + mul_rn(T(0.5), gt_w), gt_cy = reference[1] + mul_rn(T(0.5), gt_h);
  out[0] = wx * (gt_cx - ex_cx) / ex_w;
  out[1] = wy * (gt_cy - ex_cy) / ex_h;
  out[2] = ww * std::log(gt_w / ex_w);
  out[3] = wh * std::log(gt_h / ex_h);
}

// Box from deltas (torchvision BoxCoder.decode_single): dw, dh clamped above at `clip`.
template <class T>
MRC_HOST_DEVICE inline void box_decode(const T* rel, const T* box, T wx, T wy, T ww, T wh, T clip, T* out) {
  const T w = box[2] - box[0], h = box[3] - box[1];
  const T cx = box[0] + mul_rn(T(0.5), w), cy = box[1] + mul_rn(T(0.5), h);
  const T dx = rel[0] / wx, dy = rel[1] / wy;
  const T dw = min_of(rel[2] / ww, clip), dh = min_of(rel[3] / wh, clip);
  const T pcx = mul_rn(dx, w) + cx, pcy = mul_rn(dy, h) + cy;
  const T half_w = mul_rn(T(0.5), std::exp(dw) * w), half_h = mul_rn(T(0.5), std::exp(dh) * h);
  out[0] = pcx - half_w;
  out[1] = pcy - half_h;
  out[2] = pcx + half_w;
  out[3] = pcy + half_h;
}

// ---- FPN levels (torchvision MultiScaleRoIAlign) --------------------------------------------------

// LevelMapper: floor(canonical_level + log2(sqrt(area) / canonical_scale) + eps) clamped to
// [k_min, k_max], returned relative to k_min. A NaN area gives -1 (no level; torchvision leaves those
// outputs zero).
MRC_HOST_DEVICE inline int64_t fpn_level(const float* box, int64_t k_min, int64_t k_max,
                                         int64_t canonical_scale = 224, int64_t canonical_level = 4,
                                         double eps = 1e-6) {
  const float s = std::sqrt(box_area(box));
  float lvl = std::floor(float(canonical_level) + std::log2(s / float(canonical_scale)) + float(eps));
  if (lvl != lvl) return -1;
  if (lvl < float(k_min)) lvl = float(k_min);
  if (lvl > float(k_max)) lvl = float(k_max);
  return int64_t(lvl) - k_min;
}

// _infer_scale: 2^round(log2(feature_size / image_size)), the rounding done in float32 like torch.
inline double infer_scale(int64_t feature_size, int64_t image_size) {
  const float approx = float(double(feature_size) / double(image_size));
  return std::exp2(double(std::nearbyint(std::log2(approx))));
}
// The pyramid level of a scale 2^-k (k, truncated like torchvision's int()).
inline int64_t scale_to_level(double scale) { return int64_t(-std::log2(float(scale))); }

// ---- anchors ---------------------------------------------------------------------------------------

// One anchor of the shifted grid: the base (cell) anchor moved by the integer shift of its grid cell.
MRC_HOST_DEVICE inline void shift_anchor(const float* base, int64_t shift_x, int64_t shift_y, float* out) {
  const float sx = float(int32_t(shift_x)), sy = float(int32_t(shift_y));
  out[0] = sx + base[0];
  out[1] = sy + base[1];
  out[2] = sx + base[2];
  out[3] = sy + base[3];
}

// ---- paste_masks (torchvision paste_masks_in_image) -----------------------------------------------

// expand_boxes(box, scale) then .to(int64): the integer box the padded mask is resized onto.
MRC_HOST_DEVICE inline void expanded_int_box(const float* box, float scale, int64_t* out) {
  const float w_half = mul_rn(mul_rn(box[2] - box[0], 0.5f), scale);
  const float h_half = mul_rn(mul_rn(box[3] - box[1], 0.5f), scale);
  const float x_c = mul_rn(box[2] + box[0], 0.5f), y_c = mul_rn(box[3] + box[1], 0.5f);
  out[0] = int64_t(x_c - w_half);
  out[1] = int64_t(y_c - h_half);
  out[2] = int64_t(x_c + w_half);
  out[3] = int64_t(y_c + h_half);
}

// Value of a (M+2p) x (M+2p) zero-padded copy of the M x M `mask` at padded coordinates (r, c).
MRC_HOST_DEVICE inline float padded_mask_at(const float* mask, int64_t m, int64_t pad, int64_t r, int64_t c) {
  r -= pad;
  c -= pad;
  return (r >= 0 && r < m && c >= 0 && c < m) ? mask[r * m + c] : 0.f;
}

// Pixel (y, x) of the padded mask resized onto the integer box b (expanded_int_box): torchvision's
// F.interpolate(padded, size=(h, w), mode="bilinear"), with torch's own taps and rounding (pool_math.h).
MRC_HOST_DEVICE inline float pasted_mask_value(const float* mask, int64_t m, int64_t pad, const int64_t* b, int64_t y,
                                               int64_t x) {
  const int64_t w = b[2] - b[0] + 1 > 1 ? b[2] - b[0] + 1 : 1, h = b[3] - b[1] + 1 > 1 ? b[3] - b[1] + 1 : 1;
  const int64_t padded = m + 2 * pad;
  return pool::bilinear_value(pool::linear_tap<float>(y - b[1], padded, h, false),
                              pool::linear_tap<float>(x - b[0], padded, w, false),
                              [&](int64_t r, int64_t c) { return padded_mask_at(mask, m, pad, r, c); },
                              /*channels_last=*/true);  // one [1, 1, h, w] plane
}

}  // namespace mrc::kernels

// Mask ops over the raw kernels: argument checks and CPU/CUDA dispatch.
#include "kernels/masks/masks_op.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/detection_math.h"
#include "kernels/masks/masks.h"
#include "tensor/parallel.h"
#ifdef MRC_WITH_CUDA
#include "tensor/cuda/context.h"
#endif

namespace mrc {

BilinearAxis bilinear_axis(int64_t in, int64_t out) {
  BilinearAxis t;
  const double scale = double(float(in) / float(out));
  for (int64_t i = 0; i < out; ++i) {
    const double center = scale * (double(i) + 0.5);
    const int64_t lo = std::max<int64_t>(int64_t(center - 1.0 + 0.5), 0);
    const int64_t size = std::min<int64_t>(int64_t(center + 1.0 + 0.5), in) - lo;
    double w[2] = {0, 0}, total = 0;
    for (int64_t j = 0; j < size && j < 2; ++j) {  // support 1: never a third tap
      const double d = std::abs(double(j + lo) - center + 0.5);
      w[j] = d < 1.0 ? 1.0 - d : 0.0;
      total += w[j];
    }
    if (total != 0) w[0] /= total, w[1] /= total;
    t.first.push_back(std::min(lo, in - 1));
    t.w0.push_back(w[0]);
    t.w1.push_back(lo + 1 < in ? w[1] : 0.0);
  }
  return t;
}

namespace {

// One [in_h, in_w] plane resized to rows [y0, y1) and columns [x0, x1) of an out_h x out_w image.
void resize_plane(const float* src, int64_t in_h, int64_t in_w, const BilinearAxis& ty, const BilinearAxis& tx,
                  int64_t y0, int64_t y1, int64_t x0, int64_t x1, float* dst, int64_t dst_stride, std::vector<float>& tmp) {
  const int64_t w = x1 - x0;
  tmp.resize(size_t(in_h * w));
  for (int64_t r = 0; r < in_h; ++r) {
    const float* row = src + r * in_w;
    for (int64_t v = 0; v < w; ++v) {
      const int64_t j = tx.first[size_t(x0 + v)];
      const double w1 = tx.w1[size_t(x0 + v)];
      tmp[size_t(r * w + v)] = float(double(row[j]) * tx.w0[size_t(x0 + v)] + (w1 != 0 ? double(row[j + 1]) * w1 : 0.0));
    }
  }
  for (int64_t y = y0; y < y1; ++y) {
    const int64_t j = ty.first[size_t(y)];
    const double w0 = ty.w0[size_t(y)], w1 = ty.w1[size_t(y)];
    const float* r0 = tmp.data() + j * w;
    const float* r1 = w1 != 0 ? r0 + w : r0;
    float* d = dst + (y - y0) * dst_stride;
    for (int64_t v = 0; v < w; ++v) d[v] = float(double(r0[v]) * w0 + double(r1[v]) * w1);
  }
}

// paste_masks_in_image on the host with torch's taps (see bilinear_axis).
void paste_cpu(const float* masks, int64_t n, int64_t m, const float* boxes, int64_t im_h, int64_t im_w, float* out,
               int64_t padding) {
  const int64_t padded = m + 2 * padding;
  const float scale = float(double(padded) / double(m));
  mrc::parallel_for(n, 1, [&](int64_t i0, int64_t i1) {
    std::vector<float> pm(size_t(padded * padded)), tmp;
    for (int64_t i = i0; i < i1; ++i) {
      float* o = out + i * im_h * im_w;
      std::fill(o, o + im_h * im_w, 0.f);
      int64_t b[4];
      kernels::expanded_int_box(boxes + 4 * i, scale, b);
      const int64_t w = std::max<int64_t>(b[2] - b[0] + 1, 1), h = std::max<int64_t>(b[3] - b[1] + 1, 1);
      const int64_t x0 = std::max<int64_t>(b[0], 0), x1 = std::min<int64_t>(b[2] + 1, im_w);
      const int64_t y0 = std::max<int64_t>(b[1], 0), y1 = std::min<int64_t>(b[3] + 1, im_h);
      if (x1 <= x0 || y1 <= y0) continue;
      std::fill(pm.begin(), pm.end(), 0.f);
      for (int64_t r = 0; r < m; ++r)
        std::copy(masks + (i * m + r) * m, masks + (i * m + r + 1) * m, pm.begin() + (r + padding) * padded + padding);
      resize_plane(pm.data(), padded, padded, bilinear_axis(padded, h), bilinear_axis(padded, w), y0 - b[1], y1 - b[1],
                   x0 - b[0], x1 - b[0], o + y0 * im_w + x0, im_w, tmp);
    }
  });
}

}  // namespace

Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w) {
  if (x.dim() != 3 || x.dtype() != DType::Float32 || out_h < 1 || out_w < 1)
    throw_arg("resize_bilinear", "expected float32 [C, H, W] and a positive size, got " + x.str());
  const Tensor src = x.contiguous().cpu();
  const int64_t c = src.size(0), in_h = src.size(1), in_w = src.size(2);
  const BilinearAxis ty = bilinear_axis(in_h, out_h), tx = bilinear_axis(in_w, out_w);
  Tensor out = Tensor::empty({c, out_h, out_w}, DType::Float32);
  mrc::parallel_for(c, 1, [&](int64_t c0, int64_t c1) {
    std::vector<float> tmp;
    for (int64_t ch = c0; ch < c1; ++ch)
      resize_plane(src.data<float>() + ch * in_h * in_w, in_h, in_w, ty, tx, 0, out_h, 0, out_w,
                   out.data<float>() + ch * out_h * out_w, out_w, tmp);
  });
  return out.to(x.device());
}

Tensor project_masks_on_boxes(const Tensor& gt_masks, const Tensor& boxes_in, const Tensor& idx_in, int64_t m) {
  const char* op = "project_masks_on_boxes";
  check_defined(op, gt_masks, "gt_masks");
  check_defined(op, boxes_in, "boxes");
  check_defined(op, idx_in, "matched_idxs");
  if (gt_masks.dim() != 3) throw_arg(op, "gt_masks must be [G, H, W], got " + shape_str(gt_masks.shape()));
  if (gt_masks.dtype() != DType::UInt8 && gt_masks.dtype() != DType::Float32)
    throw_arg(op, "gt_masks must be uint8 or float32, got " + gt_masks.str());
  if (boxes_in.dim() != 2 || boxes_in.size(1) != 4 || boxes_in.dtype() != DType::Float32)
    throw_arg(op, "boxes must be float32 [n, 4], got " + boxes_in.str());
  if (idx_in.dim() != 1 || idx_in.size(0) != boxes_in.size(0) || idx_in.dtype() != DType::Int64)
    throw_arg(op, "matched_idxs must be int64 [" + std::to_string(boxes_in.size(0)) + "], got " + idx_in.str());
  if (m <= 0) throw_arg(op, "the output size M must be positive, got " + std::to_string(m));
  check_same_device(op, gt_masks, boxes_in);
  check_same_device(op, boxes_in, idx_in);
  const Tensor g = gt_masks.detach().contiguous(), b = boxes_in.detach().contiguous(), idx = idx_in.contiguous();
  const int64_t n = b.size(0);
  Tensor out = Tensor::empty({n, m, m}, DType::Float32, b.device());
  if (n == 0) return out;
  if (b.is_cuda()) {
#ifdef MRC_WITH_CUDA
    auto s = cuda::current_stream(b.device().index);
    if (g.dtype() == DType::UInt8)
      kernels::project_masks_on_boxes_cuda<uint8_t>(g.data<uint8_t>(), g.size(0), g.size(1), g.size(2), b.data<float>(),
                                                    idx.data<int64_t>(), n, m, out.data<float>(), s);
    else
      kernels::project_masks_on_boxes_cuda<float>(g.data<float>(), g.size(0), g.size(1), g.size(2), b.data<float>(),
                                                  idx.data<int64_t>(), n, m, out.data<float>(), s);
#endif
    return out;
  }
  try {
    if (g.dtype() == DType::UInt8)
      kernels::project_masks_on_boxes_cpu<uint8_t>(g.data<uint8_t>(), g.size(0), g.size(1), g.size(2), b.data<float>(),
                                                   idx.data<int64_t>(), n, m, out.data<float>());
    else
      kernels::project_masks_on_boxes_cpu<float>(g.data<float>(), g.size(0), g.size(1), g.size(2), b.data<float>(),
                                                 idx.data<int64_t>(), n, m, out.data<float>());
  } catch (const std::runtime_error& e) {
    throw_arg(op, e.what());
  }
  return out;
}

Tensor paste_masks_in_image(const Tensor& masks_in, const Tensor& boxes_in, int64_t height, int64_t width,
                            int64_t padding) {
  const char* op = "paste_masks_in_image";
  check_defined(op, masks_in, "masks");
  check_defined(op, boxes_in, "boxes");
  Tensor masks = masks_in;
  if (masks.dim() == 4 && masks.size(1) == 1) masks = masks.squeeze(1);
  if (masks.dim() != 3 || masks.size(1) != masks.size(2) || masks.dtype() != DType::Float32)
    throw_arg(op, "masks must be float32 [n, M, M] or [n, 1, M, M], got " + masks_in.str());
  if (boxes_in.dim() != 2 || boxes_in.size(1) != 4 || boxes_in.size(0) != masks.size(0) ||
      boxes_in.dtype() != DType::Float32)
    throw_arg(op, "boxes must be float32 [" + std::to_string(masks.size(0)) + ", 4], got " + boxes_in.str());
  if (height < 0 || width < 0) throw_arg(op, "image size must be >= 0");
  check_same_device(op, masks, boxes_in);
  const Tensor mk = masks.detach().contiguous(), b = boxes_in.detach().contiguous();
  const int64_t n = mk.size(0), m = mk.size(1);
  Tensor out = Tensor::empty({n, 1, height, width}, DType::Float32, mk.device());
  if (out.numel() == 0) return out;
  if (mk.is_cuda()) {
#ifdef MRC_WITH_CUDA
    kernels::paste_masks_in_image_cuda(mk.data<float>(), n, m, b.data<float>(), height, width, out.data<float>(),
                                       cuda::current_stream(mk.device().index), padding);
#endif
    return out;
  }
  // Not kernels::paste_masks_in_image_cpu: its resize taps (kernels::linear_tap) differ from torch 1.13's by an
  // ulp, which flips pixels at the 0.5 threshold (see bilinear_axis).
  paste_cpu(mk.data<float>(), n, m, b.data<float>(), height, width, out.data<float>(), padding);
  return out;
}

}  // namespace mrc

// Mask targets and mask pasting on the CPU: ROIAlign's shared loops over the GT masks, and the padded
// bilinear resize of paste_masks_in_image over each detection's box region (detection_math.h's
// pasted_mask_value, the CUDA kernel's per-pixel function: torch's taps and rounding).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")  // round like torchvision's (unfused) build, see host_device.h
#endif
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/detection_math.h"
#include "kernels/masks/masks.h"
#include "kernels/roi_align/roi_align_cpu_impl.h"
#include "tensor/parallel.h"

namespace mrc::kernels {

template <class TMask>
void project_masks_on_boxes_cpu(const TMask* gt_masks, int64_t num_gt, int64_t height, int64_t width,
                                const float* boxes, const int64_t* matched_idxs, int64_t num_boxes, int64_t m,
                                float* out) {
  if (num_gt < 0 || height < 0 || width < 0 || num_boxes < 0 || m <= 0)
    throw std::runtime_error("project_masks_on_boxes_cpu: sizes must be non-negative and M positive, got " +
                             std::to_string(num_gt) + " masks of " + std::to_string(height) + "x" +
                             std::to_string(width) + ", " + std::to_string(num_boxes) + " boxes, M=" + std::to_string(m));
  std::vector<float> rois(static_cast<size_t>(5 * num_boxes));
  for (int64_t i = 0; i < num_boxes; ++i) {
    if (matched_idxs[i] < 0 || matched_idxs[i] >= num_gt)
      throw std::runtime_error("project_masks_on_boxes_cpu: matched_idxs[" + std::to_string(i) + "] is " +
                               std::to_string(matched_idxs[i]) + ", expected a mask index in [0, " +
                               std::to_string(num_gt) + ")");
    rois[size_t(5 * i)] = float(matched_idxs[i]);
    for (int c = 0; c < 4; ++c) rois[size_t(5 * i + 1 + c)] = boxes[4 * i + c];
  }
  const detail::FeatureView<TMask> view{gt_masks, FeatureShape{num_gt, 1, height, width}, 1.0};
  detail::roi_align_forward_rois<float, TMask>(rois.data(), num_boxes, 1, RoiAlignParams{m, m, 1.0, -1, false},
                                               [&](int64_t) { return &view; }, out);
}

namespace {

template <class TOut, class Store>
void paste(const float* masks, int64_t n, int64_t m, const float* boxes, int64_t im_h, int64_t im_w, TOut* out,
           int64_t padding, Store store, const char* where) {
  if (n < 0 || m <= 0 || im_h < 0 || im_w < 0 || padding < 0)
    throw std::runtime_error(std::string(where) + ": expected n >= 0, M > 0, image size >= 0 and padding >= 0, got n=" +
                             std::to_string(n) + " M=" + std::to_string(m) + " image " + std::to_string(im_h) + "x" +
                             std::to_string(im_w) + " padding " + std::to_string(padding));
  const int64_t padded = m + 2 * padding;
  const float scale = float(double(padded) / double(m));
  const int64_t plane = im_h * im_w;
  mrc::parallel_for(n, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      TOut* o = out + i * plane;
      std::fill(o, o + plane, TOut(0));
      int64_t b[4];
      expanded_int_box(boxes + 4 * i, scale, b);
      const int64_t x0 = std::max<int64_t>(b[0], 0), x1 = std::min<int64_t>(b[2] + 1, im_w);
      const int64_t y0 = std::max<int64_t>(b[1], 0), y1 = std::min<int64_t>(b[3] + 1, im_h);
      const float* mask = masks + i * m * m;
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x) o[y * im_w + x] = store(pasted_mask_value(mask, m, padding, b, y, x));
    }
  });
}

}  // namespace

void paste_masks_in_image_cpu(const float* masks, int64_t n, int64_t m, const float* boxes, int64_t im_h,
                              int64_t im_w, float* out, int64_t padding) {
  paste(masks, n, m, boxes, im_h, im_w, out, padding, [](float v) { return v; }, "paste_masks_in_image_cpu");
}

void paste_masks_in_image_binary_cpu(const float* masks, int64_t n, int64_t m, const float* boxes, int64_t im_h,
                                     int64_t im_w, float threshold, uint8_t* out, int64_t padding) {
  paste(masks, n, m, boxes, im_h, im_w, out, padding, [threshold](float v) { return uint8_t(v > threshold); },
        "paste_masks_in_image_binary_cpu");
}

template void project_masks_on_boxes_cpu<uint8_t>(const uint8_t*, int64_t, int64_t, int64_t, const float*,
                                                  const int64_t*, int64_t, int64_t, float*);
template void project_masks_on_boxes_cpu<float>(const float*, int64_t, int64_t, int64_t, const float*, const int64_t*,
                                                int64_t, int64_t, float*);

}  // namespace mrc::kernels

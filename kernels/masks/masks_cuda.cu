// Mask targets and mask pasting on CUDA: one thread per target bin (ROIAlign's shared bin function over
// the GT masks) and one thread per output pixel of the pasted masks.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels/detection_math.h"
#include "kernels/masks/masks.h"

namespace mrc::kernels {
namespace {

int blocks_for(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return int(b < 65535 * 32 ? b : 65535 * 32);
}

void check_launch(const char* where) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw std::runtime_error(std::string(where) + ": " + cudaGetErrorString(e));
}

template <class TMask>
__global__ void project_kernel(const TMask* __restrict__ gt, int64_t num_gt, int64_t h, int64_t w,
                               const float* __restrict__ boxes, const int64_t* __restrict__ matched, int64_t n,
                               int64_t m, float* __restrict__ out) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n * m * m;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = idx / (m * m), ph = (idx / m) % m, pw = idx % m;
    const int64_t g = matched[k];
    float v = 0.f;
    if (g >= 0 && g < num_gt && h > 0 && w > 0) {
      const float* b = boxes + 4 * k;
      const float roi[5] = {float(g), b[0], b[1], b[2], b[3]};
      const RoiBins<float> bins = roi_bins(roi, 1.f, m, m, -1, false);
      v = roi_align_bin(gt + g * h * w, h, w, bins, ph, pw);
    }
    out[idx] = v;
  }
}

template <class TOut>
__global__ void paste_kernel(const float* __restrict__ masks, int64_t n, int64_t m, const float* __restrict__ boxes,
                             int64_t im_h, int64_t im_w, int64_t pad, float scale, float threshold, bool binary,
                             TOut* __restrict__ out) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n * im_h * im_w;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = idx / (im_h * im_w), y = (idx / im_w) % im_h, x = idx % im_w;
    int64_t b[4];
    expanded_int_box(boxes + 4 * i, scale, b);
    const bool inside = x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3];
    const float v = inside ? pasted_mask_value(masks + i * m * m, m, pad, b, y, x) : 0.f;
    out[idx] = binary ? TOut(v > threshold) : TOut(v);
  }
}

template <class TOut>
void launch_paste(const float* masks, int64_t n, int64_t m, const float* boxes, int64_t im_h, int64_t im_w,
                  float threshold, bool binary, TOut* out, cudaStream_t stream, int64_t padding, const char* where) {
  if (n < 0 || m <= 0 || im_h < 0 || im_w < 0 || padding < 0)
    throw std::runtime_error(std::string(where) + ": expected n >= 0, M > 0, image size >= 0 and padding >= 0");
  const int64_t total = n * im_h * im_w;
  if (total == 0) return;
  const float scale = float(double(m + 2 * padding) / double(m));
  paste_kernel<<<blocks_for(total, 256), 256, 0, stream>>>(masks, n, m, boxes, im_h, im_w, padding, scale, threshold,
                                                           binary, out);
  check_launch(where);
}

}  // namespace

template <class TMask>
void project_masks_on_boxes_cuda(const TMask* gt_masks, int64_t num_gt, int64_t height, int64_t width,
                                 const float* boxes, const int64_t* matched_idxs, int64_t num_boxes, int64_t m,
                                 float* out, GpuStream stream) {
  if (num_gt < 0 || height < 0 || width < 0 || num_boxes < 0 || m <= 0)
    throw std::runtime_error("project_masks_on_boxes_cuda: sizes must be non-negative and M positive");
  if (num_boxes == 0) return;
  project_kernel<<<blocks_for(num_boxes * m * m, 256), 256, 0, stream>>>(gt_masks, num_gt, height, width, boxes,
                                                                          matched_idxs, num_boxes, m, out);
  check_launch("project_masks_on_boxes_cuda");
}

void paste_masks_in_image_cuda(const float* masks, int64_t n, int64_t m, const float* boxes, int64_t im_h,
                               int64_t im_w, float* out, GpuStream stream, int64_t padding) {
  launch_paste(masks, n, m, boxes, im_h, im_w, 0.f, false, out, stream, padding, "paste_masks_in_image_cuda");
}

void paste_masks_in_image_binary_cuda(const float* masks, int64_t n, int64_t m, const float* boxes, int64_t im_h,
                                      int64_t im_w, float threshold, uint8_t* out, GpuStream stream,
                                      int64_t padding) {
  launch_paste(masks, n, m, boxes, im_h, im_w, threshold, true, out, stream, padding,
               "paste_masks_in_image_binary_cuda");
}

template void project_masks_on_boxes_cuda<uint8_t>(const uint8_t*, int64_t, int64_t, int64_t, const float*,
                                                   const int64_t*, int64_t, int64_t, float*, GpuStream);
template void project_masks_on_boxes_cuda<float>(const float*, int64_t, int64_t, int64_t, const float*,
                                                 const int64_t*, int64_t, int64_t, float*, GpuStream);

}  // namespace mrc::kernels

// Non-maximum suppression (torchvision.ops.nms / batched_nms semantics) on raw buffers: CPU (float,
// double) and CUDA (float). Boxes are N x 4 (x1, y1, x2, y2); a box is dropped when its IoU with a
// higher-scoring kept box is > iou_threshold. The result is kept indices, highest score first.
#pragma once
#include <cstdint>

#include "kernels/host_device.h"

namespace mrc::kernels {

// keep must hold n entries; returns how many were written. Equal scores are visited in index order (the
// stable sort of torchvision's CPU kernel). Throws std::runtime_error on n < 0.
template <class T>
int64_t nms_cpu(const T* boxes, const T* scores, int64_t n, double iou_threshold, int64_t* keep);

// Order of equal scores in batched_nms's result on its per-category path. Torchvision: the order torch
// 1.13's unstable CPU sort gives (reproduced exactly), so results equal torchvision's element by
// element. Stable: ties by index, as the CUDA kernel orders them. The kept set is the same either way.
enum class NmsTies { Torchvision, Stable };

// NMS within each category idxs[i]; boxes of different categories never suppress each other. Follows
// torchvision's two code paths (both per-category in effect, rounding differently): for n * 4 > 4000
// an NMS per category, else one NMS over boxes offset by idx * (max coordinate + 1).
template <class T>
int64_t batched_nms_cpu(const T* boxes, const T* scores, const int64_t* idxs, int64_t n, double iou_threshold,
                        int64_t* keep, NmsTies ties = NmsTies::Torchvision);

// torchvision picks the per-category path above this many boxes (numel > 4000 on the CPU).
inline constexpr int64_t kBatchedNmsPerCategoryAbove = 1000;

// batched_nms's kept set as a mask (kept[i] = 1 when box i survives), always per category with exact
// coordinates (the path above kBatchedNmsPerCategoryAbove, whatever n): a category's kept set depends on its
// own boxes only, so one call can serve many images (a category per image and level). kept holds n entries.
template <class T>
void batched_nms_mask_cpu(const T* boxes, const T* scores, const int64_t* idxs, int64_t n, double iou_threshold,
                          uint8_t* kept);

#if defined(MRC_WITH_CUDA)
// Device pointers in and out (keep holds n entries on the device); returns the count, which needs a
// synchronisation of `stream`. Ties are broken like NmsTies::Stable, so keep sets equal the CPU's
// with that option. Workspace comes from cudaMallocAsync on `stream`; the 64 x 64-box bitmask takes
// n * ceil(n / 64) * 8 bytes (1.25 GB at 100k boxes).
int64_t nms_cuda(const float* boxes, const float* scores, int64_t n, double iou_threshold, int64_t* keep,
                 GpuStream stream);
int64_t batched_nms_cuda(const float* boxes, const float* scores, const int64_t* idxs, int64_t n,
                         double iou_threshold, int64_t* keep, GpuStream stream);
// The mask above on the device, with no synchronisation: kernels queued on `stream`, nothing read back.
void batched_nms_mask_cuda(const float* boxes, const float* scores, const int64_t* idxs, int64_t n,
                           double iou_threshold, uint8_t* kept, GpuStream stream);
#endif

}  // namespace mrc::kernels

// Box operations of the detection heads on raw buffers (x1, y1, x2, y2 rows): IoU matrix, BoxCoder
// encode/decode, clipping, small-box removal, the proposal Matcher and the balanced positive/negative
// sampler, with torchvision's semantics. CPU (float, double) and CUDA (float).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/detection_math.h"
#include "kernels/host_device.h"

namespace mrc::kernels {

// out (n x m): IoU of a[i] and b[j] (torchvision.ops.box_iou).
template <class T>
void box_iou_cpu(const T* a, int64_t n, const T* b, int64_t m, T* out);

// deltas (n x 4): the regression targets turning proposals[i] into reference[i] (BoxCoder.encode_single).
template <class T>
void encode_boxes_cpu(const T* reference, const T* proposals, int64_t n, const BoxCoderWeights& w, T* deltas);

// out (n x k x 4): deltas (n x 4k, k boxes per reference box, e.g. one per class) applied to boxes
// (n x 4) (BoxCoder.decode_single); dw, dh clamped above at `clip`.
template <class T>
void decode_boxes_cpu(const T* deltas, const T* boxes, int64_t n, int64_t k, const BoxCoderWeights& w, T* out,
                      double clip = kBoxXformClip);

// clip_boxes_to_image over `rows` boxes: x into [0, width], y into [0, height]. in may equal out.
template <class T>
void clip_boxes_cpu(const T* in, int64_t rows, int64_t height, int64_t width, T* out);

// remove_small_boxes: indices (ascending) of boxes with width and height >= min_size. keep holds n.
template <class T>
int64_t remove_small_boxes_cpu(const T* boxes, int64_t n, double min_size, int64_t* keep);

// ---- Matcher (torchvision det_utils.Matcher) -----------------------------------------------------

inline constexpr int64_t kBelowLowThreshold = -1;
inline constexpr int64_t kBetweenThresholds = -2;

struct MatcherParams {
  double high_threshold = 0.7;
  double low_threshold = 0.3;
  bool allow_low_quality_matches = true;
};

// quality: m x n (ground truth x predictions), usually box_iou(gt, anchors). matches[j]: the gt index
// with the highest quality for prediction j (first on ties), or kBelowLowThreshold / kBetweenThresholds;
// with low-quality matches, every prediction that is some gt's best (ties included) keeps its match.
// Throws std::runtime_error (torchvision's messages) when m or n is 0 or low > high.
template <class T>
void match_cpu(const T* quality, int64_t m, int64_t n, const MatcherParams& p, int64_t* matches);

// ---- BalancedPositiveNegativeSampler -------------------------------------------------------------

// randperm(k) must return a permutation of 0..k-1 (the engine's seeded Generator); it is called twice
// per image, for the positives and then the negatives, like torch.randperm in torchvision.
using RandpermFn = std::function<std::vector<int64_t>(int64_t)>;

// labels (n): >= 1 positive, 0 negative, < 0 ignored. Picks up to batch_size * positive_fraction
// positives and fills the batch with negatives, each by a random permutation. pos_mask / neg_mask (n)
// are overwritten with 0/1. Returns {positives, negatives} picked.
struct SampleCounts {
  int64_t positives = 0, negatives = 0;
};
SampleCounts balanced_sample(const int64_t* labels, int64_t n, int64_t batch_size_per_image, double positive_fraction,
                             const RandpermFn& randperm, uint8_t* pos_mask, uint8_t* neg_mask);

#if defined(MRC_WITH_CUDA)
// Device pointers; launched on `stream`. remove_small_boxes_cuda returns the count (synchronises).
void box_iou_cuda(const float* a, int64_t n, const float* b, int64_t m, float* out, GpuStream stream);
void encode_boxes_cuda(const float* reference, const float* proposals, int64_t n, const BoxCoderWeights& w,
                       float* deltas, GpuStream stream);
void decode_boxes_cuda(const float* deltas, const float* boxes, int64_t n, int64_t k, const BoxCoderWeights& w,
                       float* out, GpuStream stream, double clip = kBoxXformClip);
void clip_boxes_cuda(const float* in, int64_t rows, int64_t height, int64_t width, float* out, GpuStream stream);
int64_t remove_small_boxes_cuda(const float* boxes, int64_t n, double min_size, int64_t* keep, GpuStream stream);
void match_cuda(const float* quality, int64_t m, int64_t n, const MatcherParams& p, int64_t* matches,
                GpuStream stream);
#endif

}  // namespace mrc::kernels

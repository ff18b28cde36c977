// Types the parts of Mask R-CNN share: training targets, the batched image list, detections, and the
// per-call context (sampler injection, intermediate-tensor trace, random generator).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kernels/box_ops/box_ops_op.h"
#include "kernels/multiscale_roi/multiscale_roi_op.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace mrc::maskrcnn {

// One image's ground truth (torchvision's target dict): boxes float32 [n, 4] (x1, y1, x2, y2) in
// pixels, labels int64 [n] in [1, NUM_CLASSES), masks uint8 [n, H, W] (0/1) at the image's size.
struct Target {
  Tensor boxes, labels, masks;
  // Set once check_target_values has passed on these boxes and labels on the host, before they were uploaded
  // (train::to_model_inputs): forward_train then reads nothing back from the device to check them.
  bool checked = false;
};

// Throws std::invalid_argument naming `where` and the box or label unless every box (x1, y1, x2, y2) has
// x1 < x2 and y1 < y2 and every label lies in [1, num_classes). boxes [n * 4] and labels [n] as host values
// (float32 boxes are exact in double, int64 labels below 2^53).
void check_target_values(const double* boxes, const double* labels, int64_t n, int64_t num_classes,
                         const std::string& where);

// Normalized, resized images zero-padded into one batch, with each image's size before padding.
struct ImageList {
  Tensor tensors;         // [N, 3, H, W]
  ImageSizes image_sizes;  // (height, width) per image after resizing
};

// One image's detections (torchvision's result dict), in the coordinates of the photo as given.
struct Detections {
  Tensor boxes;   // float32 [n, 4]
  Tensor scores;  // float32 [n], decreasing
  Tensor labels;  // int64 [n]
  Tensor masks;   // float32 [n, 1, H, W] probabilities (threshold with DETECTION_MASK_THRESHOLD)
};

// Who picks the training samples. By default the balanced sampler draws from the model's Generator; a
// hook replaces those draws (parity tests replay another implementation's choices). For image `image`,
// `candidates` are the boxes [n, 4] to choose from (the anchors for the RPN, the proposals followed by the
// GT boxes for the ROI heads) and `labels` their labels (>= 1 positive, 0 negative, < 0 ignored); the
// hook returns uint8 masks [n] of the picked positives and negatives.
enum class SamplerStage { Rpn, Roi };
using SamplerHook =
    std::function<SampledMasks(SamplerStage stage, int64_t image, const Tensor& labels, const Tensor& candidates)>;

// Training samplers on the device (switch, off by default until a GPU run has verified it): the balanced
// sampler draws with balanced_sample_device (no host read of the labels), the RPN losses weigh every anchor
// by its sampled mask instead of gathering the sampled ones, and the ROI heads take a fixed number of rows
// per image (sampled first, padding ignored) for the box and mask heads (RoIHeads::fixed_size_losses): no
// count is read to the host. In training the RPN also filters every image's proposals at once (one read: the
// number each keeps; the same proposals as the per-image filtering) and cross_entropy does not read the ROI
// labels' range (TargetCheck::NaN). A different draw from the same Generator than the default sampler's, so runs
// with it on are not comparable step by step; the losses for the same picks are the same sums.
void set_device_samplers(bool on);
bool device_samplers();
// The balanced sampler the switch selects (balanced_sample_device or balanced_sample), for the default
// draw and for hooks that draw from generators of their own (train/global_batch.cpp).
SampledMasks draw_balanced(const Tensor& labels, int64_t batch_size, double positive_fraction, Generator& gen);

// Named intermediate tensors of one forward pass (detached), e.g. "rpn.objectness.0".
using Trace = std::map<std::string, Tensor>;
// Sees each ReLU input of the heads (site e.g. "mask_head.2", "rpn.0") before its ReLU and returns what the
// ReLU gets instead: parity trajectories make rounding-level inputs take the reference's side of zero.
using ReluHook = std::function<Tensor(const std::string& site, const Tensor& pre)>;

struct RunContext {
  Generator* gen = nullptr;
  const SamplerHook* sampler = nullptr;  // null: draw from gen
  Trace* trace = nullptr;                // null: record nothing
  const ReluHook* relu = nullptr;        // null: ReLU inputs pass unchanged
  std::string prefix;                    // prepended to trace names

  void record(const std::string& name, const Tensor& t) const {
    if (trace) (*trace)[prefix + name] = t.detach();
  }
  // Whether the heads' ReLU inputs are wanted (recorded or hooked): else conv and ReLU may run fused.
  bool sees_relu_inputs() const { return trace || relu; }
  // A ReLU input of site `site`: recorded as "relu.<site>", then through the ReLU hook when one is set.
  Tensor relu_input(const std::string& site, const Tensor& pre) const {
    record("relu." + site, pre);
    return relu ? (*relu)(site, pre) : pre;
  }
  SampledMasks sample(SamplerStage stage, int64_t image, const Tensor& labels, const Tensor& candidates,
                      int64_t batch_size, double positive_fraction) const;
};

}  // namespace mrc::maskrcnn

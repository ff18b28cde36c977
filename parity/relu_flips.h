// ReLU "kinks" of the parity check: ReLU inputs so close to zero that float rounding puts them on
// different sides in torchvision and in our model. One such flip reroutes the gradient at that position,
// which can move the gradients of every parameter upstream of it by more than the 1e-3 tolerance although
// both computations are right to float precision. The reference keeps torchvision's near-zero ReLU inputs
// (train.relu.<where>.{idx,val,scale}); this finds where ours have the other sign.
#pragma once
#include <string>
#include <vector>

#include "models/maskrcnn/common.h"
#include "models/maskrcnn/maskrcnn.h"
#include "parity/checker.h"

namespace mrc::parity {

using maskrcnn::MaskRCNN;
using maskrcnn::Trace;

// One ReLU site of the reference and what was found there.
struct ReluFlip {
  std::string where;         // e.g. "body.layer3.1.out", "mask_head.2"
  bool recorded = true;      // our model records this ReLU input (else nothing could be compared)
  int64_t compared = 0;      // torchvision's near-zero positions looked up here
  int64_t unmatched = 0;     // positions in a ROI row of torchvision's without a counterpart here
  int64_t count = 0;         // positions whose sign differs
  double ref = 0, ours = 0;  // the values at the largest flip, relative to the tensor's magnitude
  bool kink = true;          // every flip has both values within kink_rtol of zero
};

// Row correspondence of the ROI heads' tensors: box_rows[k] is our row of torchvision's sampled ROI k,
// mask_rows[k] our row of its positive ROI k (-1: none); ROIs tied in score may come in another order.
struct RoiRows {
  std::vector<int64_t> box_rows, mask_rows;
};

// Our training pass's ReLU inputs: the heads' from `trace` ("relu.*"), the backbone body's recomputed from
// trace "images" with the model's own layers (no grad). Compared with the reference at torchvision's
// near-zero positions; kink_rtol relative to the tensor's largest magnitude. One entry per ReLU site the
// reference holds, flipped or not.
std::vector<ReluFlip> find_relu_flips(MaskRCNN& model, const Trace& trace, ParityChecker& ref, const RoiRows& rows,
                                      double kink_rtol);

// Whether a flip at `flip` can move the gradient of parameter `param` (it lies upstream of the flip).
bool upstream_of(const MaskRCNN& model, const std::string& param, const std::string& flip);

// Along trajectories the flips are replayed instead, like the proposals and sampler picks: `pre` (a ReLU
// input) with each flat position idx[i] given the side of zero of the reference's value val[i] (> 0 or not)
// by negating ours there. Ours changes only where it already differs from the reference by more than its
// own magnitude, and by at most twice that difference: rounding, not a different computation. The change is
// a constant added to `pre`, so the gradient passes unchanged. Adds the positions changed to *flipped.
Tensor replay_relu_sides(const Tensor& pre, const Tensor& idx, const Tensor& val, const std::string& where,
                         int64_t* flipped);

}  // namespace mrc::parity

// Trajectory parity: from torchvision's weights and data, N steps of SGD or Adam on our model against the
// same N steps of torch.optim on torchvision's model (float64), torchvision's choices replayed at every step:
// its RPN proposals (handed to our ROI heads instead of ours: top-k and NMS over near-tied objectness
// scores are discrete choices that float32 rounding alone changes, and then no sampled ROI has a
// counterpart), both samplers' picks and, along Adam's trajectory, the side of zero of the heads' near-zero
// ReLU inputs (replay_relu_sides, relu_flips.h). The proposals carry no gradient, so their replay changes no
// derivative; our proposals are held to torchvision's in the one-pass checks.
// Why Adam needs the ReLU sides: one mask-predictor ReLU input 1.3e-7 of its tensor's magnitude above zero
// (float64) came out -3.8e-7 here and +5.4e-7 in torch's float32 run at step 0 (both forward passes within
// 2e-6 of float64); the rerouted gradient (5e-5 of the mask branch's gradient norms) flips the sign of the
// small gradient elements, and Adam, which normalizes each element's step, turns those into lr-sized steps:
// ours went 2-20x farther from float64 than torch's float32 run from step 2 on (6 of 100 losses beyond
// tolerance), and the same flip injected into torch's float32 run moved it exactly as far. SGD moves those
// elements by their own small size and holds without the replay. With it, SGD's spread shrinks below
// what the backbone's flips (not replayed: its ReLUs run fused with their convolutions) do to ours, so SGD
// keeps its unreplayed reference; replaying the backbone's ReLUs too is what would let both use it.
// The reference (tests/fixtures/test_maskrcnn_parity.py --steps N) holds, for <opt> = sgd | adam:
//   <opt>.<k>.loss.<name>                 the five losses of step k (before its update), k = 0..N-1
//   <opt>.<k>.{rpn,roi}.sampled_{pos,neg}.<i>, <opt>.<k>.rpn.proposals.<i>   step k's choices
//   adam.<k>.relu.<site>.{idx,val}        step k's head ReLU inputs within 1e-3 of their tensor's magnitude
//                                         from zero (flat index, float64 value), site rpn.<level>,
//                                         box_head.fc{6,7}, mask_head.<j>, mask_predictor
//   <opt>.final.<param>                   every trainable parameter after the N updates
//   <opt>.spread.loss                     [N, 5]: |torch float32 - torch float64| / |float64| per step and loss
//   <opt>.spread.final.<param>            [1]: ||torch float32 - torch float64|| / ||float64 - initial||
// and the metadata trajectory_steps, sgd_lr, sgd_momentum, sgd_weight_decay, adam_lr, adam_weight_decay,
// adam_eps. The spreads are torch's own float32 trajectory (with the same choices replayed) against its
// float64 one: what float32 rounding alone does to this trajectory.
//
// Tolerances (ParityOptions), one rule: ours is a float32 run too, so it may be trajectory_lambda times the
// measured spread away from the reference, and never held tighter than one pass is:
//   loss j at step k:     |ours - ref| / |ref| <= max(loss_rtol, lambda * max_{i <= k} spread[i, j])
//                         (the envelope: rounding errors accumulate, so a step where torch's float32 run
//                         happened to land close sets no tighter bound than the steps before it);
//   final parameter P:    ||ours - ref|| / ||ref - initial|| <= max(grad_rtol, lambda * spread(P))
//                         (an update is no more accurate than its gradient, held to grad_rtol of its norm).
// A NaN anywhere fails.
#pragma once
#include <ostream>
#include <string>

#include "parity/checker.h"
#include "parity/reference.h"

namespace mrc::parity {

// Adds "<opt>.<k>.loss.<name>" for every step and loss, "<opt>.final.<param>" for every trainable
// parameter (each printed only when it fails) and the summaries "<opt>.losses" and "<opt>.parameters",
// each with its worst ratio of error to tolerance. With `dump` (mrc-parity --dump), step k's intermediates,
// gradients and the parameters after its update go there as "<opt>.<k>.trace.<name>" (as the one-pass
// "train.<name>"), "<opt>.<k>.grad.<param>" and "<opt>.<k>.param.<param>".
void check_trajectory(ParityChecker& c, const Reference& r, const std::string& optimizer, std::ostream* log,
                      TensorMap* dump = nullptr);

}  // namespace mrc::parity

// Trajectory parity: from torchvision's weights and data, N steps of SGD or Adam on our model against the
// same N steps of torch.optim on torchvision's model (float64), torchvision's choices replayed at every step:
// its RPN proposals (handed to our ROI heads instead of ours: top-k and NMS over near-tied objectness
// scores are discrete choices that float32 rounding alone changes, and then no sampled ROI has a
// counterpart) and both samplers' picks. The proposals carry no gradient, so the replay changes no
// derivative; our proposals are held to torchvision's in the one-pass checks. The reference
// (tests/fixtures/test_maskrcnn_parity.py --steps N) holds, for <opt> = sgd | adam:
//   <opt>.<k>.loss.<name>                 the five losses of step k (before its update), k = 0..N-1
//   <opt>.<k>.{rpn,roi}.sampled_{pos,neg}.<i>, <opt>.<k>.rpn.proposals.<i>   step k's choices
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
// each with its worst ratio of error to tolerance.
void check_trajectory(ParityChecker& c, const Reference& r, const std::string& optimizer, std::ostream* log);

}  // namespace mrc::parity

// Trajectory parity: from torchvision's weights and data, N steps of SGD or Adam on our model against the
// same N steps of torch.optim on torchvision's model (float64), torchvision's sampler choices replayed at
// every step. The reference (tests/fixtures/test_maskrcnn_parity.py --steps N) holds, for <opt> = sgd | adam:
//   <opt>.<k>.loss.<name>                 the five losses of step k (before its update), k = 0..N-1
//   <opt>.<k>.{rpn,roi}.sampled_{pos,neg}.<i>, <opt>.<k>.rpn.proposals.<i>   step k's sampler choices
//   <opt>.final.<param>                   every trainable parameter after the N updates
// and the metadata trajectory_steps, sgd_lr, sgd_momentum, sgd_weight_decay, adam_lr, adam_weight_decay,
// adam_eps. Adam's eps must be well above the float32 error of near-zero gradient elements (the fixture
// uses 1e-4): with torch's 1e-8 the first updates are ~lr * sign(g) and such elements step either way.
//
// Tolerances (ParityOptions): each update carries our gradient's float32 error (<= grad_rtol of its norm,
// see maskrcnn_parity.h), and the steps compound it, so the final parameters are held to
// trajectory_param_rtol of the distance torchvision's parameters travelled (||ours - ref|| <= rtol *
// ||ref - initial|| per tensor) and the losses to trajectory_loss_rtol at every step.
#pragma once
#include <ostream>
#include <string>

#include "parity/checker.h"
#include "parity/reference.h"

namespace mrc::parity {

// Adds "<opt>.<k>.loss.<name>" for every step and loss, "<opt>.final.<param>" for every trainable
// parameter (each printed only when it fails) and the summaries "<opt>.losses" and "<opt>.parameters".
void check_trajectory(ParityChecker& c, const Reference& r, const std::string& optimizer, std::ostream* log);

}  // namespace mrc::parity

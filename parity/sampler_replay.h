// Replaying torchvision's sampler choices in our model: the balanced samplers of the RPN (over anchors)
// and of the ROI heads (over proposals and GT boxes) pick at random, so the parity check makes ours pick
// what torchvision picked, recorded in the reference under <prefix>{rpn,roi}.sampled_{pos,neg}.<image>.
#pragma once
#include <string>
#include <vector>

#include "models/maskrcnn/common.h"
#include "parity/checker.h"

namespace mrc::parity {

// A sampler hook for MaskRCNN::sampler_hook. The RPN's candidates (anchors) come in one fixed order; the
// ROI heads' (torchvision's proposals <prefix>rpn.proposals.<image>, then the GT boxes) are mapped box by
// box within box_rtol, since tied proposals may come in either order. Each call adds the check
// "<prefix>{rpn,roi}.sampled.<image>": every pick has a counterpart here with the same label.
maskrcnn::SamplerHook replay_sampler(ParityChecker& c, const std::string& prefix,
                                     const std::vector<maskrcnn::Target>& targets, double box_rtol);

}  // namespace mrc::parity

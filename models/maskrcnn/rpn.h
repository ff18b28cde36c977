// Region proposal network (torchvision RegionProposalNetwork): the 3x3 conv head with objectness and
// box deltas per anchor (rpn.head.conv.0.0, rpn.head.cls_logits, rpn.head.bbox_pred), anchors per
// level, proposals (pre-NMS top-n per level, decode, clip, remove small, NMS per level, post-NMS top-n),
// and in training the anchor targets (Matcher with low-quality matches), the balanced sample and the
// two losses (objectness BCE, smooth-L1 with beta 1/9 on the positives). With set_device_samplers in training,
// the proposals of all images are filtered at once with masks and one host read (the same proposals).
#pragma once
#include <memory>
#include <utility>
#include <vector>

#include "layers/layers.h"
#include "models/maskrcnn/common.h"
#include "models/maskrcnn/config.h"

namespace mrc::maskrcnn {

class RPNHead : public Module {
 public:
  // Convolutions initialised as torchvision's: normal(std=0.01), zero bias.
  RPNHead(int64_t channels, int64_t num_anchors, Generator& gen);
  // Per level: objectness logits [N, A, H, W] and deltas [N, 4A, H, W]. ctx (optional) receives the
  // ReLU inputs as "relu.rpn.<level>".
  std::pair<std::vector<Tensor>, std::vector<Tensor>> forward(const std::vector<Tensor>& features,
                                                              const RunContext* ctx = nullptr);
  std::string type_name() const override { return "RPNHead"; }

  std::shared_ptr<Conv2d> conv, cls_logits, bbox_pred;
};

struct RpnOutput {
  std::vector<Tensor> boxes;   // per image: proposals [k, 4] (detached), best first
  std::vector<Tensor> scores;  // per image: their objectness probabilities [k]
  Tensor loss_objectness, loss_box_reg;  // training only
};

class RegionProposalNetwork : public Module {
 public:
  RegionProposalNetwork(const Config& cfg, Generator& gen);
  // features: every pyramid level (P2..P6). targets: required in training mode, ignored otherwise.
  // head_out: the head's outputs for these features when already computed (a replayed CUDA graph,
  // graphed_trunk.h), else the head runs here.
  RpnOutput forward(const ImageList& images, const std::vector<Tensor>& features, const std::vector<Target>* targets,
                    const RunContext& ctx,
                    const std::pair<std::vector<Tensor>, std::vector<Tensor>>* head_out = nullptr);
  std::string type_name() const override { return "RegionProposalNetwork"; }

  std::shared_ptr<RPNHead> head;

 private:
  Config cfg_;
  std::vector<std::vector<double>> sizes_, ratios_;
};

}  // namespace mrc::maskrcnn

// The ROI heads of Mask R-CNN (torchvision RoIHeads with the mask branch): proposal sampling with GT
// boxes added, MultiScaleRoIAlign 7x7 -> TwoMLPHead (fc6, fc7) -> FastRCNNPredictor (cls_score,
// bbox_pred) with cross-entropy and smooth-L1 losses; MultiScaleRoIAlign 14x14 -> 4 x (3x3 conv + ReLU)
// (mask_head.0..3) -> MaskRCNNPredictor (conv5_mask 2x2 stride 2 + ReLU, mask_fcn_logits) with BCE on
// the GT class's 28x28 targets; in eval the detection postprocess (score threshold, per-class NMS,
// top-N) and each detection's mask probabilities for its class.
#pragma once
#include <memory>
#include <vector>

#include "layers/layers.h"
#include "models/maskrcnn/common.h"
#include "models/maskrcnn/config.h"

namespace mrc::maskrcnn {

class TwoMLPHead : public UnaryModule {
 public:
  TwoMLPHead(int64_t in_features, int64_t representation, Generator& gen);
  Tensor forward(const Tensor& x) override;  // [K, C, P, P] -> [K, representation]
  // The same, recording the ReLU inputs as "relu.box_head.fc6" / "relu.box_head.fc7" in ctx.
  Tensor forward(const Tensor& x, const RunContext& ctx);
  std::string type_name() const override { return "TwoMLPHead"; }
  std::shared_ptr<Linear> fc6, fc7;
};

class FastRCNNPredictor : public Module {
 public:
  FastRCNNPredictor(int64_t in_features, int64_t num_classes, Generator& gen);
  std::pair<Tensor, Tensor> forward(const Tensor& x);  // class logits [K, classes], deltas [K, 4 * classes]
  std::string type_name() const override { return "FastRCNNPredictor"; }
  std::shared_ptr<Linear> cls_score, bbox_pred;
};

// Box outputs of one call; in eval, the detections per image in the resized images' coordinates with
// masks [n, 1, M, M] (probabilities of the detected class); in training the three losses.
struct RoiOutput {
  std::vector<Tensor> boxes, scores, labels, masks;
  Tensor loss_classifier, loss_box_reg, loss_mask;
};

class RoIHeads : public Module {
 public:
  RoIHeads(const Config& cfg, Generator& gen);
  // features: P2..P5 (the levels ROIAlign reads); proposals: per image [k, 4] (detached).
  RoiOutput forward(const std::vector<Tensor>& features, const std::vector<Tensor>& proposals,
                    const ImageSizes& image_sizes, const std::vector<Target>* targets, const RunContext& ctx);
  std::string type_name() const override { return "RoIHeads"; }

  std::shared_ptr<TwoMLPHead> box_head;
  std::shared_ptr<FastRCNNPredictor> box_predictor;
  std::shared_ptr<Sequential> mask_head, mask_predictor;

 private:
  Tensor mask_logits(const std::vector<Tensor>& features, const std::vector<Tensor>& boxes, const ImageSizes& sizes,
                     const RunContext& ctx);
  // The training losses with the device samplers (set_device_samplers): each image's rows are a fixed number
  // (min(TRAIN_ROIS_PER_IMAGE, candidates), sampled first, padding labelled -1) and the mask head takes a
  // fixed number of rows per image (positives first, up to the sampler's positive quota), so the losses weigh
  // rows by masks instead of gathering them: no count is read to the host. Same sums as the gathered losses.
  RoiOutput fixed_size_losses(const std::vector<Tensor>& levels, const Tensor& class_logits, const Tensor& box_regression,
                              const std::vector<Tensor>& proposals, const std::vector<Tensor>& labels,
                              const std::vector<Tensor>& matched, const std::vector<Tensor>& reg_targets,
                              const std::vector<Target>& targets, const ImageSizes& image_sizes, const RunContext& ctx);
  Config cfg_;
};

}  // namespace mrc::maskrcnn

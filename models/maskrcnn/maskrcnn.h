// Mask R-CNN (torchvision's maskrcnn_resnet50_fpn architecture and parameter names): transform ->
// ResNet-FPN backbone -> RPN -> ROI heads -> postprocess. In training it returns the five losses by
// the Keras study's names, combined with LOSS_WEIGHTS; in eval the detections per photo.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/maskrcnn/common.h"
#include "models/maskrcnn/config.h"
#include "models/maskrcnn/fpn.h"
#include "models/maskrcnn/graphed_trunk.h"
#include "models/maskrcnn/roi_heads.h"
#include "models/maskrcnn/rpn.h"
#include "models/maskrcnn/transform.h"
#include "tensor/serialize.h"

namespace mrc::maskrcnn {

struct Losses {
  std::map<std::string, Tensor> by_name;  // rpn_class_loss, rpn_bbox_loss, mrcnn_class_loss, ...
  Tensor total;                           // sum of LOSS_WEIGHTS[name] * loss
};

class MaskRCNN : public Module {
 public:
  // Random initialisation as torchvision's (same initialisers, values drawn from the Config's SEED).
  explicit MaskRCNN(const Config& cfg);
  std::string type_name() const override { return "MaskRCNN"; }
  const Config& config() const { return cfg_; }

  // Training mode (train()): images float32 [3, H, W] in [0, 1], one Target per image (in the images'
  // pixel coordinates; they are resized with the images). Keeps at most MAX_GT_INSTANCES per image. The boxes
  // and labels of targets not checked on the host (Target::checked) are read back in one transfer and checked.
  Losses forward_train(const std::vector<Tensor>& images, std::vector<Target> targets);
  // Eval mode (eval()): detections per image in its own coordinates, masks pasted at its size.
  std::vector<Detections> detect(const std::vector<Tensor>& images);

  // Training phases of the Keras study: "heads" (FPN, RPN, ROI heads), "3+", "4+", "5+" (ResNet stages
  // res3/res4/res5 = layer2/layer3/layer4 and up, plus the heads), "all". Parameters outside the group get
  // requires_grad = false. Returns the number of trainable parameter tensors.
  int set_layer_group(const std::string& group);
  static std::string layer_group_regex(const std::string& group);  // throws on an unknown group

  // Weights from a safetensors file of torchvision names (tools/convert_torchvision.py writes one).
  // exclude: regexes of names left as initialised (see class_specific_layers()). Returns the names not
  // loaded. Errors name the file and every missing/unexpected/misshaped tensor.
  std::vector<std::string> load_weights(const std::string& path, const std::vector<std::string>& exclude = {});
  // The same from tensors already read from `path` (named in errors).
  std::vector<std::string> load_weights(const TensorMap& state, const std::string& path,
                                        const std::vector<std::string>& exclude = {});
  void save_weights(const std::string& path) const;
  // The predictors whose shapes depend on NUM_CLASSES (exclude them when the class count changes).
  static std::vector<std::string> class_specific_layers();

  Generator& generator() { return gen_; }
  SamplerHook sampler_hook;  // when set, replaces the training samplers' random draws
  // When set, forward_train hands the ROI heads what it returns for the RPN's proposals (per image, detached
  // [k, 4]) instead of them: parity tests replay another implementation's proposals, which are a discrete
  // choice (top-k, NMS over near-tied objectness scores) that rounding alone can change.
  std::function<std::vector<Tensor>(const std::vector<Tensor>& proposals)> proposal_hook;
  Trace* trace = nullptr;    // when set, receives the intermediate tensors of each forward
  ReluHook relu_hook;        // when set, sees the heads' ReLU inputs (RunContext::relu_input)

  std::shared_ptr<BackboneWithFPN> backbone;
  std::shared_ptr<RegionProposalNetwork> rpn;
  std::shared_ptr<RoIHeads> roi_heads;
  GeneralizedRCNNTransform transform;
  // detect()'s backbone + FPN + RPN head as a CUDA graph, when set_cuda_graphs(true) and the batch is on CUDA
  std::shared_ptr<GraphedTrunk> graphed_trunk = std::make_shared<GraphedTrunk>();

 private:
  RunContext context(const std::string& prefix);
  Config cfg_;
  Generator gen_;
};

NormKind norm_kind(const std::string& backbone_norm);  // "frozen_bn" | "bn" | "gn"

}  // namespace mrc::maskrcnn

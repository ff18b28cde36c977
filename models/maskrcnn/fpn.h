// The backbone of Mask R-CNN: a ResNet body (C2–C5) and a feature pyramid (P2–P5 with 256 channels, P6
// by max-pooling P5), under torchvision's names: backbone.body.*, backbone.fpn.inner_blocks.N.0.*,
// backbone.fpn.layer_blocks.N.0.*.
#pragma once
#include <memory>
#include <vector>

#include "layers/layers.h"
#include "models/resnet.h"

namespace mrc::maskrcnn {

// torchvision.ops.FeaturePyramidNetwork with LastLevelMaxPool (its default extra block).
class FeaturePyramidNetwork : public Module {
 public:
  // Convolutions initialised as torchvision's: kaiming_uniform(a=1), zero bias.
  FeaturePyramidNetwork(const std::vector<int64_t>& in_channels, int64_t out_channels, Generator& gen);
  // c: the body's maps finest first -> one map per input plus the pooled extra level, finest first.
  std::vector<Tensor> forward(const std::vector<Tensor>& c);
  std::string type_name() const override { return "FeaturePyramidNetwork"; }

  std::vector<std::shared_ptr<Conv2d>> inner_blocks, layer_blocks;
};

// F.interpolate(x, size=(h, w), mode="nearest") for any sizes (torch's floor(dst * in / out) rule).
Tensor resize_nearest(const Tensor& x, int64_t out_h, int64_t out_w);

struct BackboneOptions {
  int depth = 50;
  NormKind norm = NormKind::FrozenBatchNorm;
  double norm_eps = 1e-5;  // frozen batch norm's eps (torchvision's COCO weights use 0)
  int64_t gn_groups = 32;
  int64_t out_channels = 256;
  int trainable_layers = 3;
};

class BackboneWithFPN : public Module {
 public:
  BackboneWithFPN(const BackboneOptions& o, Generator& gen);
  // x [N, 3, H, W] -> P2, P3, P4, P5, P6 (torchvision's "0", "1", "2", "3", "pool").
  std::vector<Tensor> forward(const Tensor& x);
  std::string type_name() const override { return "BackboneWithFPN"; }

  std::shared_ptr<ResNet> body;
  std::shared_ptr<FeaturePyramidNetwork> fpn;
};

}  // namespace mrc::maskrcnn

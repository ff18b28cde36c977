// ResNet-50 / ResNet-101 exactly as torchvision lays them out (Bottleneck with the stride on the 3x3 conv),
// with torchvision's parameter names (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0, ..., fc) and
// initializers. forward() gives classifier logits; forward_features() the C2–C5 maps a detector uses.
#pragma once
#include <memory>
#include <vector>

#include "layers/fold_bn.h"
#include "layers/layers.h"

namespace mrc {

struct ResNetOptions {
  int depth = 50;                          // 50 or 101
  NormKind norm = NormKind::BatchNorm;     // torchvision's default; FrozenBatchNorm for detection backbones
  int64_t gn_groups = 32;
  int64_t num_classes = 1000;              // 0: no avgpool/fc (a feature extractor, as IntermediateLayerGetter)
  uint64_t seed = 0;                       // initializer seed
};

class Bottleneck : public UnaryModule {
 public:
  static constexpr int64_t expansion = 4;
  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, bool downsample, NormKind norm, int64_t gn_groups,
             Generator& gen);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Bottleneck"; }

  std::shared_ptr<Conv2d> conv1, conv2, conv3;
  std::shared_ptr<UnaryModule> bn1, bn2, bn3;
  std::shared_ptr<Sequential> downsample;  // null when the shapes match

 private:
  ConvNormFold fold1_, fold2_, fold3_, fold_down_;  // frozen BN folded into each conv (layers/fold_bn.h)
};

class ResNet : public UnaryModule {
 public:
  explicit ResNet(const ResNetOptions& options = {});
  struct Features {
    Tensor c2, c3, c4, c5;  // strides 4, 8, 16, 32; channels 256, 512, 1024, 2048
  };
  Features forward_features(const Tensor& x);
  Tensor forward(const Tensor& x) override;  // logits [N, num_classes]
  std::string type_name() const override { return "ResNet"; }

  // torchvision's trainable_layers (0..5): layer4, layer3, layer2, layer1, conv1 (+bn1 at 5) stay trainable,
  // in that order; every other parameter gets requires_grad = false.
  void set_trainable_layers(int trainable_layers);

  ResNetOptions options;
  std::shared_ptr<Conv2d> conv1;
  std::shared_ptr<UnaryModule> bn1;
  std::shared_ptr<MaxPool2d> maxpool;
  std::shared_ptr<Sequential> layer1, layer2, layer3, layer4;
  std::shared_ptr<Linear> fc;  // null when num_classes == 0

 private:
  ConvNormFold fold1_;
};

std::vector<int> resnet_blocks(int depth);  // {3, 4, 6, 3} or {3, 4, 23, 3}; throws otherwise

}  // namespace mrc

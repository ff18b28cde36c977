// ResNet-50/101 (see resnet.h).
#include "models/resnet.h"

#include <stdexcept>

#include "kernels/ops.h"
#include "layers/init.h"

namespace mrc {

std::vector<int> resnet_blocks(int depth) {
  if (depth == 50) return {3, 4, 6, 3};
  if (depth == 101) return {3, 4, 23, 3};
  if (depth == 152) return {3, 8, 36, 3};
  throw std::invalid_argument("ResNet: depth must be 50, 101 or 152, got " + std::to_string(depth));
}

namespace {
std::shared_ptr<Conv2d> conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, Generator& gen) {
  auto c = std::make_shared<Conv2d>(in, out, k, stride, pad, /*bias=*/false, &gen);
  init::kaiming_normal_(c->weight, 0, "fan_out", "relu", &gen);
  return c;
}
}  // namespace

Bottleneck::Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, bool with_downsample, NormKind norm,
                       int64_t gn_groups, Generator& gen) {
  conv1 = register_module("conv1", conv(inplanes, planes, 1, 1, 0, gen));
  bn1 = register_module("bn1", make_norm(norm, planes, gn_groups));
  conv2 = register_module("conv2", conv(planes, planes, 3, stride, 1, gen));
  bn2 = register_module("bn2", make_norm(norm, planes, gn_groups));
  conv3 = register_module("conv3", conv(planes, planes * expansion, 1, 1, 0, gen));
  bn3 = register_module("bn3", make_norm(norm, planes * expansion, gn_groups));
  if (with_downsample) {
    downsample = std::make_shared<Sequential>();
    downsample->push_back(conv(inplanes, planes * expansion, 1, stride, 0, gen));
    downsample->push_back(make_norm(norm, planes * expansion, gn_groups));
    register_module("downsample", downsample);
  }
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = fold1_.forward(*conv1, *bn1, x, Tensor(), true);
  out = fold2_.forward(*conv2, *bn2, out, Tensor(), true);
  const Tensor identity =
      downsample ? fold_down_.forward(dynamic_cast<Conv2d&>((*downsample)[0]), (*downsample)[1], x) : x;
  return fold3_.forward(*conv3, *bn3, out, identity, true);
}

ResNet::ResNet(const ResNetOptions& o) : options(o) {
  Generator gen(o.seed);
  const std::vector<int> blocks = resnet_blocks(o.depth);
  conv1 = register_module("conv1", conv(3, 64, 7, 2, 3, gen));
  bn1 = register_module("bn1", make_norm(o.norm, 64, o.gn_groups));
  maxpool = std::make_shared<MaxPool2d>(3, 2, 1);
  int64_t inplanes = 64;
  auto make_layer = [&](int64_t planes, int n, int64_t stride) {
    auto seq = std::make_shared<Sequential>();
    for (int i = 0; i < n; ++i) {
      const bool ds = i == 0 && (stride != 1 || inplanes != planes * Bottleneck::expansion);
      seq->push_back(std::make_shared<Bottleneck>(inplanes, planes, i == 0 ? stride : 1, ds, o.norm, o.gn_groups, gen));
      inplanes = planes * Bottleneck::expansion;
    }
    return seq;
  };
  layer1 = register_module("layer1", make_layer(64, blocks[0], 1));
  layer2 = register_module("layer2", make_layer(128, blocks[1], 2));
  layer3 = register_module("layer3", make_layer(256, blocks[2], 2));
  layer4 = register_module("layer4", make_layer(512, blocks[3], 2));
  if (o.num_classes > 0) fc = register_module("fc", std::make_shared<Linear>(2048, o.num_classes, true, &gen));
}

ResNet::Features ResNet::forward_features(const Tensor& x) {
  if (x.dim() != 4 || x.size(1) != 3)
    throw std::invalid_argument("ResNet: input must be [N, 3, H, W], got " + shape_str(x.shape()));
  Features f;
  Tensor h = maxpool->forward(fold1_.forward(*conv1, *bn1, x, Tensor(), true));
  f.c2 = layer1->forward(h);
  f.c3 = layer2->forward(f.c2);
  f.c4 = layer3->forward(f.c3);
  f.c5 = layer4->forward(f.c4);
  return f;
}

Tensor ResNet::forward(const Tensor& x) {
  if (!fc) throw std::logic_error("ResNet::forward: built without a classifier (num_classes = 0); use forward_features");
  const Tensor c5 = forward_features(x).c5;
  return fc->forward(mean(c5, {2, 3}));
}

void ResNet::set_trainable_layers(int n) {
  if (n < 0 || n > 5) throw std::invalid_argument("ResNet: trainable_layers must be in [0, 5], got " + std::to_string(n));
  static const char* order[] = {"layer4", "layer3", "layer2", "layer1", "conv1"};
  std::string pattern;
  for (int i = 0; i < n; ++i) pattern += std::string(i ? "|" : "") + order[i] + "\\..*";
  if (n == 5) pattern += "|bn1\\..*";
  set_requires_grad(".*", false);
  if (n > 0) set_requires_grad(pattern, true);
}

}  // namespace mrc

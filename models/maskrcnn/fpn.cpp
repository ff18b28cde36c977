// ResNet-FPN backbone (see fpn.h).
#include "models/maskrcnn/fpn.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/ops.h"
#include "layers/init.h"
#include "tensor/profile.h"

namespace mrc::maskrcnn {

namespace {

// torchvision's Conv2dNormActivation without norm and activation is a Sequential holding the conv as "0".
std::shared_ptr<Conv2d> add_block(const std::shared_ptr<Sequential>& list, int64_t index, int64_t in,
                                  int64_t out, int64_t k, Generator& gen) {
  auto conv = std::make_shared<Conv2d>(in, out, k, 1, k / 2, true, &gen);
  init::kaiming_uniform_(conv->weight, 1.0, "fan_in", "leaky_relu", &gen);
  init::constant_(conv->bias, 0);
  auto wrap = std::make_shared<Sequential>();
  wrap->push_back(conv);
  list->push_back(std::to_string(index), wrap);
  return conv;
}

}  // namespace

FeaturePyramidNetwork::FeaturePyramidNetwork(const std::vector<int64_t>& in_channels, int64_t out_channels,
                                             Generator& gen) {
  if (in_channels.empty()) throw std::invalid_argument("FeaturePyramidNetwork: in_channels is empty");
  auto inner = std::make_shared<Sequential>(), layer = std::make_shared<Sequential>();
  register_module("inner_blocks", inner);
  register_module("layer_blocks", layer);
  for (size_t i = 0; i < in_channels.size(); ++i) {
    if (in_channels[i] <= 0) throw std::invalid_argument("FeaturePyramidNetwork: in_channels must be positive");
    inner_blocks.push_back(add_block(inner, int64_t(i), in_channels[i], out_channels, 1, gen));
    layer_blocks.push_back(add_block(layer, int64_t(i), out_channels, out_channels, 3, gen));
  }
}

Tensor resize_nearest(const Tensor& x, int64_t out_h, int64_t out_w) {
  const int64_t in_h = x.size(-2), in_w = x.size(-1);
  if (in_h == out_h && in_w == out_w) return x;
  if (out_h == 2 * in_h && out_w == 2 * in_w) return upsample_nearest2d(x, 2, 2);
  auto source = [](int64_t in, int64_t out) {
    const float scale = float(in) / float(out);
    std::vector<int64_t> idx(static_cast<size_t>(out));
    for (int64_t d = 0; d < out; ++d) idx[size_t(d)] = std::min(int64_t(std::floor(float(d) * scale)), in - 1);
    return idx;
  };
  const Tensor ih = Tensor::from_vector(source(in_h, out_h), {out_h}, x.device());
  const Tensor iw = Tensor::from_vector(source(in_w, out_w), {out_w}, x.device());
  return index_select(index_select(x, x.dim() - 2, ih), x.dim() - 1, iw);
}

std::vector<Tensor> FeaturePyramidNetwork::forward(const std::vector<Tensor>& c) {
  if (c.size() != inner_blocks.size())
    throw std::invalid_argument("FeaturePyramidNetwork: got " + std::to_string(c.size()) + " feature maps, expected " +
                                std::to_string(inner_blocks.size()));
  const int64_t n = int64_t(c.size());
  std::vector<Tensor> results(static_cast<size_t>(n));
  Tensor last_inner = inner_blocks[n - 1]->forward(c[n - 1]);
  results[n - 1] = layer_blocks[n - 1]->forward(last_inner);
  for (int64_t i = n - 2; i >= 0; --i) {
    const Tensor lateral = inner_blocks[i]->forward(c[i]);
    const Tensor top_down = resize_nearest(last_inner, lateral.size(2), lateral.size(3));
    last_inner = add(lateral, top_down);
    results[i] = layer_blocks[i]->forward(last_inner);
  }
  results.push_back(max_pool2d(results.back(), 1, 2, 0));  // LastLevelMaxPool
  return results;
}

BackboneWithFPN::BackboneWithFPN(const BackboneOptions& o, Generator& gen) {
  ResNetOptions ro;
  ro.depth = o.depth;
  ro.norm = o.norm;
  ro.gn_groups = o.gn_groups;
  ro.num_classes = 0;
  ro.seed = gen.next_u64();
  body = register_module("body", std::make_shared<ResNet>(ro));
  for (auto& [name, m] : body->named_modules())
    if (auto* f = dynamic_cast<FrozenBatchNorm2d*>(m)) f->eps = o.norm_eps;
  body->set_trainable_layers(o.trainable_layers);
  fpn = register_module("fpn", std::make_shared<FeaturePyramidNetwork>(std::vector<int64_t>{256, 512, 1024, 2048},
                                                                      o.out_channels, gen));
}

std::vector<Tensor> BackboneWithFPN::forward(const Tensor& x) {
  ResNet::Features f;
  {
    profile::Scope stage("backbone");
    f = body->forward_features(x);
  }
  profile::Scope stage("fpn");
  return fpn->forward({f.c2, f.c3, f.c4, f.c5});
}

}  // namespace mrc::maskrcnn

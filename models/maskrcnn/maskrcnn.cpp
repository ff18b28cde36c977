// Mask R-CNN (see maskrcnn.h): the pieces wired as torchvision's GeneralizedRCNN.forward.
#include "models/maskrcnn/maskrcnn.h"

#include <algorithm>
#include <stdexcept>

#include "kernels/ops.h"
#include "tensor/profile.h"
#include "tensor/serialize.h"

namespace mrc::maskrcnn {

NormKind norm_kind(const std::string& s) {
  if (s == "frozen_bn") return NormKind::FrozenBatchNorm;
  if (s == "bn") return NormKind::BatchNorm;
  if (s == "gn") return NormKind::GroupNorm;
  throw std::invalid_argument("BACKBONE_NORM: expected \"frozen_bn\", \"bn\" or \"gn\", got \"" + s + "\"");
}

namespace {

Generator& seeded(Generator& g, uint64_t seed) {
  g.manual_seed(seed);
  return g;
}

BackboneOptions backbone_options(const Config& c) {
  BackboneOptions o;
  o.depth = c.BACKBONE == "resnet101" ? 101 : 50;
  o.norm = norm_kind(c.BACKBONE_NORM);
  o.norm_eps = c.BACKBONE_NORM_EPS;
  o.gn_groups = c.GN_GROUPS;
  o.out_channels = c.TOP_DOWN_PYRAMID_SIZE;
  o.trainable_layers = int(c.TRAINABLE_LAYERS);
  return o;
}

}  // namespace

MaskRCNN::MaskRCNN(const Config& cfg) : transform(cfg), cfg_(cfg), gen_(cfg.SEED) {
  cfg_.validate("MaskRCNN config");
  Generator init_gen(cfg.SEED ^ 0x9e3779b97f4a7c15ull);
  backbone = register_module("backbone", std::make_shared<BackboneWithFPN>(backbone_options(cfg_), init_gen));
  rpn = register_module("rpn", std::make_shared<RegionProposalNetwork>(cfg_, seeded(init_gen, cfg.SEED + 1)));
  roi_heads = register_module("roi_heads", std::make_shared<RoIHeads>(cfg_, seeded(init_gen, cfg.SEED + 2)));
}

RunContext MaskRCNN::context(const std::string& prefix) {
  RunContext ctx;
  ctx.gen = &gen_;
  ctx.sampler = sampler_hook ? &sampler_hook : nullptr;
  ctx.trace = trace;
  ctx.relu = relu_hook ? &relu_hook : nullptr;
  ctx.prefix = prefix;
  return ctx;
}

Losses MaskRCNN::forward_train(const std::vector<Tensor>& images, std::vector<Target> targets) {
  if (!is_training()) throw std::logic_error("MaskRCNN::forward_train: the model is in eval mode; call train() first");
  if (targets.size() != images.size())
    throw std::invalid_argument("MaskRCNN::forward_train: " + std::to_string(targets.size()) + " targets for " +
                                std::to_string(images.size()) + " images");
  auto where = [](size_t i) { return "MaskRCNN::forward_train: target " + std::to_string(i); };
  // The values of targets not checked on the host before their upload (Target::checked): every box and label
  // of the batch read in one transfer (a host sync on CUDA), not two per image.
  std::vector<Tensor> unchecked;
  for (size_t i = 0; i < targets.size(); ++i) {
    Target& t = targets[i];
    if (!t.boxes.defined() || t.boxes.dim() != 2 || t.boxes.size(1) != 4 || t.boxes.dtype() != DType::Float32)
      throw std::invalid_argument(where(i) + ": boxes must be float32 [n, 4]");
    const int64_t n = t.boxes.size(0);
    if (!t.labels.defined() || t.labels.dtype() != DType::Int64 || t.labels.dim() != 1 || t.labels.size(0) != n)
      throw std::invalid_argument(where(i) + ": labels must be int64 [" + std::to_string(n) + "]");
    if (!t.masks.defined() || t.masks.dim() != 3 || t.masks.size(0) != n || t.masks.size(1) != images[i].size(1) ||
        t.masks.size(2) != images[i].size(2))
      throw std::invalid_argument(where(i) + ": masks must be [" + std::to_string(n) + ", H, W] at the image's size");
    if (t.masks.dtype() != DType::UInt8) t.masks = t.masks.to(DType::UInt8);
    if (n && !t.checked) {
      unchecked.push_back(t.boxes.reshape({-1}).to(DType::Float64));
      unchecked.push_back(t.labels.to(DType::Float64));
    }
  }
  if (!unchecked.empty()) {
    const std::vector<double> v = cat(unchecked, 0).to_vector<double>();
    size_t at = 0;
    for (size_t i = 0; i < targets.size(); ++i) {
      const int64_t n = targets[i].boxes.size(0);
      if (!n || targets[i].checked) continue;
      check_target_values(v.data() + at, v.data() + at + 4 * size_t(n), n, cfg_.NUM_CLASSES, where(i));
      at += 5 * size_t(n);
    }
  }
  for (Target& t : targets) {
    const int64_t n = t.boxes.size(0);
    if (n > cfg_.MAX_GT_INSTANCES) {  // a random subset, as the Keras data generator keeps
      std::vector<int64_t> perm = gen_.randperm(n);
      perm.resize(size_t(cfg_.MAX_GT_INSTANCES));
      std::sort(perm.begin(), perm.end());
      const Tensor keep = Tensor::from_vector(perm, {int64_t(perm.size())}, t.boxes.device());
      t.boxes = index_select(t.boxes, 0, keep);
      t.labels = index_select(t.labels, 0, keep);
      t.masks = index_select(t.masks, 0, keep);
    }
  }
  const RunContext ctx = context("");
  const ImageList il = [&] {
    profile::Scope stage("transform");
    return transform.forward(images, &targets);
  }();
  ctx.record("images", il.tensors);
  const std::vector<Tensor> features = backbone->forward(il.tensors);
  for (size_t l = 0; l < features.size(); ++l) ctx.record("fpn." + std::to_string(l), features[l]);
  const RpnOutput r = rpn->forward(il, features, &targets, ctx);
  const RoiOutput h =
      roi_heads->forward(features, proposal_hook ? proposal_hook(r.boxes) : r.boxes, il.image_sizes, &targets, ctx);
  Losses out;
  out.by_name = {{"rpn_class_loss", r.loss_objectness},
                 {"rpn_bbox_loss", r.loss_box_reg},
                 {"mrcnn_class_loss", h.loss_classifier},
                 {"mrcnn_bbox_loss", h.loss_box_reg},
                 {"mrcnn_mask_loss", h.loss_mask}};
  for (const auto& name : kLossNames) {
    const Tensor term = mul(out.by_name.at(name), cfg_.loss_weight(name));
    out.total = out.total.defined() ? add(out.total, term) : term;
    ctx.record("loss." + name, out.by_name.at(name));
  }
  return out;
}

std::vector<Detections> MaskRCNN::detect(const std::vector<Tensor>& images) {
  if (is_training()) throw std::logic_error("MaskRCNN::detect: the model is in training mode; call eval() first");
  NoGradGuard ng;
  const RunContext ctx = context("");
  const ImageList il = [&] {
    profile::Scope stage("transform");
    return transform.forward(images, nullptr);
  }();
  ctx.record("images", il.tensors);
  // the trunk as a replayed CUDA graph (graphed_trunk.h), unless the ReLU inputs are recorded or hooked
  const bool graphed = cuda_graphs() && il.tensors.is_cuda() && !ctx.sees_relu_inputs();
  TrunkOutput trunk;
  if (graphed) trunk = graphed_trunk->run(*backbone, *rpn->head, il.tensors);
  else trunk.features = backbone->forward(il.tensors);
  const std::vector<Tensor>& features = trunk.features;
  for (size_t l = 0; l < features.size(); ++l) ctx.record("fpn." + std::to_string(l), features[l]);
  const RpnOutput r = rpn->forward(il, features, nullptr, ctx, graphed ? &trunk.head : nullptr);
  const RoiOutput h = roi_heads->forward(features, r.boxes, il.image_sizes, nullptr, ctx);
  std::vector<Detections> out;
  for (size_t i = 0; i < images.size(); ++i) {
    const std::pair<int64_t, int64_t> original{images[i].size(1), images[i].size(2)};
    profile::Scope stage("paste");
    out.push_back(transform.postprocess(h.boxes[i], h.scores[i], h.labels[i], h.masks[i], il.image_sizes[i], original));
    const std::string si = std::to_string(i);
    ctx.record("det.boxes." + si, out.back().boxes);
    ctx.record("det.scores." + si, out.back().scores);
    ctx.record("det.labels." + si, out.back().labels);
    ctx.record("det.masks." + si, out.back().masks);
  }
  return out;
}

std::string MaskRCNN::layer_group_regex(const std::string& group) {
  const std::string heads = R"(backbone\.fpn\..*|rpn\..*|roi_heads\..*)";
  if (group == "heads") return heads;
  if (group == "3+") return R"(backbone\.body\.layer[234]\..*|)" + heads;
  if (group == "4+") return R"(backbone\.body\.layer[34]\..*|)" + heads;
  if (group == "5+") return R"(backbone\.body\.layer4\..*|)" + heads;
  if (group == "all") return ".*";
  throw std::invalid_argument("layer group: expected \"heads\", \"3+\", \"4+\", \"5+\" or \"all\", got \"" + group + "\"");
}

int MaskRCNN::set_layer_group(const std::string& group) {
  const std::string re = layer_group_regex(group);
  set_requires_grad(".*", false);
  return set_requires_grad(re, true);
}

std::vector<std::string> MaskRCNN::class_specific_layers() {
  return {R"(roi_heads\.box_predictor\..*)", R"(roi_heads\.mask_predictor\.mask_fcn_logits\..*)"};
}

std::vector<std::string> MaskRCNN::load_weights(const std::string& path, const std::vector<std::string>& exclude) {
  return load_weights(load_tensors(path), path, exclude);
}

std::vector<std::string> MaskRCNN::load_weights(const TensorMap& state, const std::string& path,
                                                const std::vector<std::string>& exclude) {
  std::vector<std::string> ex = exclude;
  ex.push_back(R"(.*\.num_batches_tracked)");  // BatchNorm's step counter: absent from frozen-BN checkpoints
  try {
    return load_state_dict(state, true, ex);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

void MaskRCNN::save_weights(const std::string& path) const { save_tensors(path, state_dict()); }

}  // namespace mrc::maskrcnn

// ROI heads (see roi_heads.h), step for step as torchvision's roi_heads.py.
#include "models/maskrcnn/roi_heads.h"

#include <algorithm>
#include <stdexcept>

#include "kernels/masks/masks_op.h"
#include "kernels/nms/nms_op.h"
#include "kernels/ops.h"
#include "layers/init.h"
#include "tensor/profile.h"

namespace mrc::maskrcnn {

TwoMLPHead::TwoMLPHead(int64_t in_features, int64_t representation, Generator& gen) {
  fc6 = register_module("fc6", std::make_shared<Linear>(in_features, representation, true, &gen));
  fc7 = register_module("fc7", std::make_shared<Linear>(representation, representation, true, &gen));
}

Tensor TwoMLPHead::forward(const Tensor& x) { return forward(x, RunContext{}); }

Tensor TwoMLPHead::forward(const Tensor& x, const RunContext& ctx) {
  const Tensor a = ctx.relu_input("box_head.fc6", fc6->forward(x.flatten(1)));
  const Tensor b = ctx.relu_input("box_head.fc7", fc7->forward(relu(a)));
  return relu(b);
}

FastRCNNPredictor::FastRCNNPredictor(int64_t in_features, int64_t num_classes, Generator& gen) {
  cls_score = register_module("cls_score", std::make_shared<Linear>(in_features, num_classes, true, &gen));
  bbox_pred = register_module("bbox_pred", std::make_shared<Linear>(in_features, num_classes * 4, true, &gen));
}

std::pair<Tensor, Tensor> FastRCNNPredictor::forward(const Tensor& x) {
  const Tensor f = x.flatten(1);
  return {cls_score->forward(f), bbox_pred->forward(f)};
}

RoIHeads::RoIHeads(const Config& cfg, Generator& gen) : cfg_(cfg) {
  const int64_t c = cfg.TOP_DOWN_PYRAMID_SIZE, p = cfg.POOL_SIZE;
  box_head = register_module("box_head", std::make_shared<TwoMLPHead>(c * p * p, cfg.FPN_CLASSIF_FC_LAYERS_SIZE, gen));
  box_predictor = register_module("box_predictor",
                                  std::make_shared<FastRCNNPredictor>(cfg.FPN_CLASSIF_FC_LAYERS_SIZE, cfg.NUM_CLASSES, gen));
  // MaskRCNNHeads: four Conv2dNormActivation blocks (conv "0", ReLU "1"), kaiming_normal(fan_out), zero bias.
  mask_head = std::make_shared<Sequential>();
  int64_t in = c;
  for (int i = 0; i < 4; ++i) {
    auto conv = std::make_shared<Conv2d>(in, cfg.MASK_HEAD_CHANNELS, 3, 1, 1, true, &gen);
    init::kaiming_normal_(conv->weight, 0, "fan_out", "relu", &gen);
    init::constant_(conv->bias, 0);
    auto block = std::make_shared<Sequential>();
    block->push_back(conv);
    block->push_back(std::make_shared<ReLU>());
    mask_head->push_back(block);
    in = cfg.MASK_HEAD_CHANNELS;
  }
  register_module("mask_head", mask_head);
  // MaskRCNNPredictor: weights kaiming_normal(fan_out), biases keep torch's default init.
  ConvTranspose2dOptions t;
  t.in_channels = in;
  t.out_channels = in;
  t.kernel = {2, 2};
  t.stride = {2, 2};
  auto up = std::make_shared<ConvTranspose2d>(t, &gen);
  auto logits = std::make_shared<Conv2d>(in, cfg.NUM_CLASSES, 1, 1, 0, true, &gen);
  init::kaiming_normal_(up->weight, 0, "fan_out", "relu", &gen);
  init::kaiming_normal_(logits->weight, 0, "fan_out", "relu", &gen);
  mask_predictor = std::make_shared<Sequential>();
  mask_predictor->push_back("conv5_mask", up);
  mask_predictor->push_back("relu", std::make_shared<ReLU>());
  mask_predictor->push_back("mask_fcn_logits", logits);
  register_module("mask_predictor", mask_predictor);
}

Tensor RoIHeads::mask_logits(const std::vector<Tensor>& features, const std::vector<Tensor>& boxes,
                             const ImageSizes& sizes, const RunContext& ctx) {
  profile::Scope stage("mask_head");
  const Tensor rois = boxes_to_rois(boxes);
  if (rois.size(0) == 0)
    return Tensor::zeros({0, cfg_.NUM_CLASSES, cfg_.MASK_SHAPE[0], cfg_.MASK_SHAPE[1]}, DType::Float32,
                         features[0].device());
  const Tensor x = multiscale_roi_align(features, rois, sizes, cfg_.MASK_POOL_SIZE, cfg_.MASK_POOL_SIZE,
                                        cfg_.ROI_SAMPLING_RATIO);
  // the four conv -> ReLU blocks, each one pass (the ReLU in the conv's epilogue) unless the ReLU's input is
  // recorded or hooked
  Tensor h = x;
  for (size_t i = 0; i < mask_head->size(); ++i) {
    auto& conv = dynamic_cast<Conv2d&>(dynamic_cast<Sequential&>((*mask_head)[i])[0]);
    h = ctx.sees_relu_inputs() ? relu(ctx.relu_input("mask_head." + std::to_string(i), conv.forward(h)))
                               : conv.forward_relu(h);
  }
  if (!ctx.sees_relu_inputs()) return mask_predictor->forward(h);
  return (*mask_predictor)[2].forward(relu(ctx.relu_input("mask_predictor", (*mask_predictor)[0].forward(h))));
}

namespace {

BoxCoderWeights weights_of(const std::vector<double>& w) { return {w[0], w[1], w[2], w[3]}; }

// x[i, index[i]] for x [K, C, ...] and index int64 [K]: [K, ...].
Tensor pick_class(const Tensor& x, const Tensor& index) {
  Shape idx_shape = x.shape();
  idx_shape[1] = 1;
  Shape view_shape(x.dim(), 1);
  view_shape[0] = index.size(0);
  const Tensor idx = index.view(view_shape).expand(idx_shape);
  return gather(x, 1, idx).squeeze(1);
}

// The first k rows where mask (uint8 [n]) is set, then rows where it is not, in index order: int64 [k],
// sorted on the device (no read of the count).
Tensor first_where(const Tensor& mask, int64_t k) {
  return argsort(eq(mask, 0.0), 0, false, true).narrow(0, 0, k);
}

}  // namespace

RoiOutput RoIHeads::fixed_size_losses(const std::vector<Tensor>& levels, const Tensor& class_logits,
                                      const Tensor& box_regression, const std::vector<Tensor>& proposals,
                                      const std::vector<Tensor>& labels, const std::vector<Tensor>& matched,
                                      const std::vector<Tensor>& reg_targets, const std::vector<Target>& targets,
                                      const ImageSizes& image_sizes, const RunContext& ctx) {
  RoiOutput out;
  const Device dev = class_logits.device();
  // fastrcnn_loss over the sampled rows (label >= 0), the padding rows weighted 0
  const Tensor lab = cat(labels, 0), tgt = cat(reg_targets, 0);
  // the labels are in range by construction (0, -1 or a checked target's label): no read of their range
  out.loss_classifier = cross_entropy(class_logits, lab, Tensor(), -1, Reduction::Mean, TargetCheck::NaN);
  const Tensor count = clamp_min(sum(ge(lab, 0.0).to(DType::Float32)), 1.0);
  const Tensor pos_w = gt(lab, 0.0).to(DType::Float32);
  const Tensor regs = box_regression.reshape({box_regression.size(0), -1, 4});
  const Tensor picked = pick_class(regs, clamp_min(lab, 0.0));
  out.loss_box_reg =
      div(sum(mul(smooth_l1_loss(picked, tgt, 1.0 / 9, Reduction::None), pos_w.unsqueeze(1))), count);
  // maskrcnn_loss on a fixed number of rows per image (positives first, at most the sampler's positive quota),
  // the rows that are not positives weighted 0
  const int64_t quota = int64_t(double(cfg_.TRAIN_ROIS_PER_IMAGE) * cfg_.ROI_POSITIVE_RATIO);
  // per image in image order (ROIAlign's batch index is the position); images without ground truth: no rows
  std::vector<Tensor> mask_props(proposals.size(), Tensor::zeros({0, 4}, DType::Float32, dev));
  std::vector<Tensor> mask_labels, mask_targets, mask_w;
  for (size_t i = 0; i < proposals.size(); ++i) {
    const Target& t = targets[i];
    if (t.boxes.numel() == 0) continue;
    if (!t.masks.defined() || t.masks.dim() != 3 || t.masks.size(0) != t.boxes.size(0))
      throw std::invalid_argument("RoIHeads: target " + std::to_string(i) + " needs masks [n, H, W] for its " +
                                  std::to_string(t.boxes.size(0)) + " boxes");
    const Tensor positive = gt(labels[i], 0.0);
    const Tensor rows = first_where(positive, std::min(quota, labels[i].size(0)));
    mask_props[i] = index_select(proposals[i], 0, rows);
    const Tensor idx = index_select(matched[i], 0, rows);
    mask_labels.push_back(index_select(t.labels, 0, idx));
    mask_w.push_back(index_select(positive, 0, rows).to(DType::Float32));
    NoGradGuard ng;
    mask_targets.push_back(project_masks_on_boxes(t.masks, mask_props[i], idx, cfg_.MASK_SHAPE[0]));
  }
  const Tensor logits = mask_logits(levels, mask_props, image_sizes, ctx);
  profile::Scope mask_loss("mask_head");
  if (mask_targets.empty()) {
    out.loss_mask = mul(sum(logits), 0.0);
    return out;
  }
  const Tensor w = cat(mask_w, 0);
  const Tensor per_pixel = binary_cross_entropy_with_logits(pick_class(logits, cat(mask_labels, 0)), cat(mask_targets, 0),
                                                            Tensor(), Reduction::None);
  const double pixels = double(logits.size(2)) * double(logits.size(3));
  out.loss_mask = div(sum(mul(per_pixel, w.view({-1, 1, 1}))), clamp_min(mul(sum(w), pixels), 1.0));
  return out;
}

RoiOutput RoIHeads::forward(const std::vector<Tensor>& features, const std::vector<Tensor>& proposals_in,
                            const ImageSizes& image_sizes, const std::vector<Target>* targets, const RunContext& ctx) {
  profile::Scope stage("box_head");  // sampling, box head and predictor, losses, detections; masks nest
  const bool training = is_training();
  const int64_t n_img = int64_t(proposals_in.size());
  const Device dev = features[0].device();
  const BoxCoderWeights w = weights_of(cfg_.BBOX_WEIGHTS);
  std::vector<Tensor> proposals = proposals_in, labels, matched, reg_targets;
  RoiOutput out;

  if (training) {
    if (!targets || int64_t(targets->size()) != n_img)
      throw std::invalid_argument("RoIHeads: training needs one target per image");
    NoGradGuard ng;
    const MatcherParams mp{cfg_.ROI_FG_IOU_THRESHOLD, cfg_.ROI_BG_IOU_THRESHOLD, false};
    const bool fixed = device_samplers();
    for (int64_t i = 0; i < n_img; ++i) {
      const Target& t = (*targets)[size_t(i)];
      const std::string si = std::to_string(i);
      Tensor props = cat({proposals[size_t(i)], t.boxes}, 0);  // add_gt_proposals
      const int64_t n = props.size(0);
      Tensor match_idx, lab;
      if (t.boxes.numel() == 0) {
        match_idx = Tensor::zeros({n}, DType::Int64, dev);
        lab = Tensor::zeros({n}, DType::Int64, dev);
      } else {
        const Tensor m = match_boxes(box_iou(t.boxes, props), mp);
        match_idx = where(ge(m, 0.0), m, 0.0);
        lab = index_select(t.labels, 0, match_idx);
        lab = masked_fill(lab, eq(m, double(kernels::kBelowLowThreshold)), 0.0);
        lab = masked_fill(lab, eq(m, double(kernels::kBetweenThresholds)), -1.0);
      }
      const SampledMasks s = ctx.sample(SamplerStage::Roi, i, lab, props, cfg_.TRAIN_ROIS_PER_IMAGE,
                                        cfg_.ROI_POSITIVE_RATIO);
      ctx.record("roi.sampled_pos." + si, s.positive);
      ctx.record("roi.sampled_neg." + si, s.negative);
      const Tensor picked = logical_or(s.positive, s.negative);
      if (fixed) {
        // the sampled candidates first, then unsampled ones as padding (label -1: ignored by every loss)
        const int64_t k = std::min(cfg_.TRAIN_ROIS_PER_IMAGE, n);
        const Tensor rows = first_where(picked, k);
        props = index_select(props, 0, rows);
        match_idx = index_select(match_idx, 0, rows);
        lab = where(index_select(picked, 0, rows), index_select(lab, 0, rows), -1.0);
      } else {
        const Tensor sampled = nonzero(picked).flatten();
        props = index_select(props, 0, sampled);
        lab = index_select(lab, 0, sampled);
        match_idx = index_select(match_idx, 0, sampled);
      }
      const Tensor gt = t.boxes.numel() ? t.boxes : Tensor::zeros({1, 4}, DType::Float32, dev);
      reg_targets.push_back(encode_boxes(index_select(gt, 0, match_idx), props, w));
      proposals[size_t(i)] = props;
      labels.push_back(lab);
      matched.push_back(match_idx);
      ctx.record("roi.proposals." + si, props);
      ctx.record("roi.labels." + si, lab);
    }
  }

  const std::vector<Tensor> levels(features.begin(), features.begin() + std::min<size_t>(4, features.size()));
  const Tensor rois = boxes_to_rois(proposals);
  const Tensor box_features = multiscale_roi_align(levels, rois, image_sizes, cfg_.POOL_SIZE, cfg_.POOL_SIZE,
                                                   cfg_.ROI_SAMPLING_RATIO);
  auto [class_logits, box_regression] = box_predictor->forward(box_head->forward(box_features, ctx));
  ctx.record("roi.class_logits", class_logits);
  ctx.record("roi.box_regression", box_regression);
  const int64_t num_classes = class_logits.size(1);

  if (training && device_samplers()) return fixed_size_losses(levels, class_logits, box_regression, proposals, labels,
                                                              matched, reg_targets, *targets, image_sizes, ctx);
  if (training) {
    // fastrcnn_loss
    const Tensor lab = cat(labels, 0), tgt = cat(reg_targets, 0);
    out.loss_classifier = cross_entropy(class_logits, lab);
    const Tensor pos = nonzero(gt(lab, 0.0)).flatten();
    const Tensor regs = box_regression.reshape({box_regression.size(0), -1, 4});
    const Tensor picked = pick_class(index_select(regs, 0, pos), index_select(lab, 0, pos));
    out.loss_box_reg = div(smooth_l1_loss(picked, index_select(tgt, 0, pos), 1.0 / 9, Reduction::Sum),
                           Tensor::scalar(double(std::max<int64_t>(lab.numel(), 1)), DType::Float32, dev));
    // maskrcnn_loss on the positive proposals
    std::vector<Tensor> mask_props, mask_labels, mask_targets;
    for (int64_t i = 0; i < n_img; ++i) {
      const Target& t = (*targets)[size_t(i)];
      const Tensor p = nonzero(gt(labels[size_t(i)], 0.0)).flatten();
      mask_props.push_back(index_select(proposals[size_t(i)], 0, p));
      const Tensor idx = index_select(matched[size_t(i)], 0, p);
      if (p.numel() == 0) continue;
      if (!t.masks.defined() || t.masks.dim() != 3 || t.masks.size(0) != t.boxes.size(0))
        throw std::invalid_argument("RoIHeads: target " + std::to_string(i) + " needs masks [n, H, W] for its " +
                                    std::to_string(t.boxes.size(0)) + " boxes");
      mask_labels.push_back(index_select(t.labels, 0, idx));
      NoGradGuard ng;
      mask_targets.push_back(project_masks_on_boxes(t.masks, mask_props.back(), idx, cfg_.MASK_SHAPE[0]));
    }
    const Tensor logits = mask_logits(levels, mask_props, image_sizes, ctx);
    profile::Scope mask_loss("mask_head");
    if (mask_targets.empty()) {
      out.loss_mask = mul(sum(logits), 0.0);
    } else {
      const Tensor picked_masks = pick_class(logits, cat(mask_labels, 0));
      out.loss_mask = binary_cross_entropy_with_logits(picked_masks, cat(mask_targets, 0));
    }
    return out;
  }

  // ---- postprocess_detections ----
  {
    NoGradGuard ng;
    const Tensor pred_boxes = decode_boxes(box_regression, cat(proposals, 0), w);  // [K, C, 4]
    const Tensor pred_scores = softmax(class_logits, -1);
    const Tensor class_ids = Tensor::arange(num_classes, DType::Int64, dev).view({1, -1});
    int64_t offset = 0;
    for (int64_t i = 0; i < n_img; ++i) {
      const int64_t k = proposals[size_t(i)].size(0);
      Tensor boxes = clip_boxes(pred_boxes.narrow(0, offset, k), image_sizes[size_t(i)].first,
                                image_sizes[size_t(i)].second);
      Tensor scores = pred_scores.narrow(0, offset, k);
      Tensor labs = class_ids.expand({k, num_classes});
      offset += k;
      boxes = boxes.narrow(1, 1, num_classes - 1).reshape({-1, 4});
      scores = scores.narrow(1, 1, num_classes - 1).reshape({-1});
      labs = labs.narrow(1, 1, num_classes - 1).reshape({-1});
      Tensor keep = nonzero(gt(scores, cfg_.DETECTION_MIN_CONFIDENCE)).flatten();
      boxes = index_select(boxes, 0, keep);
      scores = index_select(scores, 0, keep);
      labs = index_select(labs, 0, keep);
      keep = remove_small_boxes(boxes, 1e-2);
      boxes = index_select(boxes, 0, keep);
      scores = index_select(scores, 0, keep);
      labs = index_select(labs, 0, keep);
      keep = batched_nms(boxes, scores, labs, cfg_.DETECTION_NMS_THRESHOLD);
      keep = keep.narrow(0, 0, std::min(cfg_.DETECTION_MAX_INSTANCES, keep.size(0)));
      out.boxes.push_back(index_select(boxes, 0, keep));
      out.scores.push_back(index_select(scores, 0, keep));
      out.labels.push_back(index_select(labs, 0, keep));
    }
    // maskrcnn_inference: each detection's mask probabilities for its class
    const Tensor probs = sigmoid(mask_logits(levels, out.boxes, image_sizes, ctx));
    const Tensor all_labels = cat(out.labels, 0);
    const Tensor picked = all_labels.numel() ? pick_class(probs, all_labels).unsqueeze(1)
                                             : Tensor::zeros({0, 1, probs.size(2), probs.size(3)}, DType::Float32, dev);
    offset = 0;
    for (int64_t i = 0; i < n_img; ++i) {
      const int64_t k = out.boxes[size_t(i)].size(0);
      out.masks.push_back(picked.narrow(0, offset, k));
      offset += k;
    }
  }
  return out;
}

}  // namespace mrc::maskrcnn

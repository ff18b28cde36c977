// Region proposal network (see rpn.h), step for step as torchvision's rpn.py.
#include "models/maskrcnn/rpn.h"

#include <algorithm>
#include <stdexcept>

#include "kernels/anchors/anchors_op.h"
#include "kernels/nms/nms.h"
#include "kernels/nms/nms_op.h"
#include "kernels/ops.h"
#include "layers/init.h"
#include "tensor/profile.h"

namespace mrc::maskrcnn {

RPNHead::RPNHead(int64_t channels, int64_t num_anchors, Generator& gen) {
  conv = std::make_shared<Conv2d>(channels, channels, 3, 1, 1, true, &gen);
  auto block = std::make_shared<Sequential>();  // Conv2dNormActivation: conv "0", ReLU "1"
  block->push_back(conv);
  block->push_back(std::make_shared<ReLU>());
  auto seq = std::make_shared<Sequential>();
  seq->push_back(block);
  register_module("conv", seq);
  cls_logits = register_module("cls_logits", std::make_shared<Conv2d>(channels, num_anchors, 1, 1, 0, true, &gen));
  bbox_pred = register_module("bbox_pred", std::make_shared<Conv2d>(channels, num_anchors * 4, 1, 1, 0, true, &gen));
  for (auto* c : {conv.get(), cls_logits.get(), bbox_pred.get()}) {
    init::normal_(c->weight, 0, 0.01, &gen);
    init::constant_(c->bias, 0);
  }
}

std::pair<std::vector<Tensor>, std::vector<Tensor>> RPNHead::forward(const std::vector<Tensor>& features,
                                                                     const RunContext* ctx) {
  std::vector<Tensor> logits, deltas;
  for (const Tensor& f : features) {
    Tensor t;
    if (ctx) {  // the ReLU's input recorded
      t = relu(ctx->relu_input("rpn." + std::to_string(logits.size()), conv->forward(f)));
    } else {
      t = conv->forward_relu(f);
    }
    logits.push_back(cls_logits->forward(t));
    deltas.push_back(bbox_pred->forward(t));
  }
  return {logits, deltas};
}

RegionProposalNetwork::RegionProposalNetwork(const Config& cfg, Generator& gen) : cfg_(cfg) {
  for (double s : cfg.RPN_ANCHOR_SCALES) {
    sizes_.push_back({s});
    ratios_.push_back(cfg.RPN_ANCHOR_RATIOS);
  }
  const auto per_loc = anchors_per_location(sizes_, ratios_);
  head = register_module("head", std::make_shared<RPNHead>(cfg.TOP_DOWN_PYRAMID_SIZE, per_loc[0], gen));
}

namespace {

BoxCoderWeights weights_of(const std::vector<double>& w) { return {w[0], w[1], w[2], w[3]}; }

// permute_and_flatten: [N, A*C, H, W] -> [N, H*W*A, C] (location-major, anchors inside).
Tensor permute_and_flatten(const Tensor& x, int64_t a, int64_t c) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  return x.view({n, a, c, h, w}).permute({0, 3, 4, 1, 2}).reshape({n, -1, c});
}

// filter_proposals for every image at once, reading one thing to the host: the number of proposals each image
// keeps (the per-image filtering reads three counts per image). The same boxes and scores in the same order
// (ties aside, below): clipped boxes, those too small or under the score threshold set aside (in a category of
// their own, dropped after the NMS), then one NMS over all images that rounds as batched_nms on each image's
// survivors does: up to kBatchedNmsPerCategoryAbove survivors, torchvision's coordinate trick (the image's
// boxes shifted by level * (its survivors' max coordinate + 1), one category per image), above it one
// category per image and level. Each image keeps its NMS survivors by decreasing score, the first post_n.
// Ties: equal scores by index; above 1000 survivors batched_nms orders them as torch's CPU sort (same set).
// obj [N, T] logits, proposals [N, T, 4], idx [N, K] the pre-NMS top-k columns, level_of [K] their levels.
void filter_all_images(const Tensor& obj, const Tensor& proposals, const Tensor& idx, const std::vector<int64_t>& level_of,
                       int64_t num_levels, const ImageSizes& sizes, const Config& cfg, int64_t post_n, RpnOutput& out) {
  const int64_t n = idx.size(0), k = idx.size(1);
  const Device dev = obj.device();
  const Tensor scores = sigmoid(gather(obj, 1, idx));  // [N, K]
  std::vector<Tensor> clipped;
  for (int64_t i = 0; i < n; ++i)
    clipped.push_back(clip_boxes(index_select(proposals[i], 0, idx[i]), sizes[size_t(i)].first, sizes[size_t(i)].second));
  const Tensor boxes = stack(clipped, 0);  // [N, K, 4]
  // remove_small_boxes (width and height >= min_size, compared in float32) and the score threshold
  const double min_size = double(float(cfg.RPN_MIN_SIZE));
  const Tensor valid = logical_and(logical_and(ge(sub(boxes.select(2, 2), boxes.select(2, 0)), min_size),
                                               ge(sub(boxes.select(2, 3), boxes.select(2, 1)), min_size)),
                                   ge(scores, cfg.RPN_SCORE_THRESHOLD));
  const Tensor survivors = sum(valid.to(DType::Float32), {1});  // [N]
  const Tensor trick = logical_and(valid, le(survivors, double(kernels::kBatchedNmsPerCategoryAbove)).view({n, 1}));
  const Tensor max_coord = max(where(valid.unsqueeze(2), boxes, -INFINITY).reshape({n, -1}), 1).first;  // [N]
  const Tensor levels = Tensor::from_vector(level_of, {k}, dev).to(DType::Float32);
  const Tensor shift = mul(levels.view({1, k}), add(max_coord, 1.0).view({n, 1}));  // [N, K]
  const Tensor nms_boxes = where(trick.unsqueeze(2), add(boxes, shift.unsqueeze(2)), boxes);
  // categories: image * L + level (one per level), N * L + image (the coordinate trick), N * L + N (set aside)
  std::vector<int64_t> per_level(size_t(n * k)), per_image(size_t(n * k));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) {
      per_level[size_t(i * k + j)] = i * num_levels + level_of[size_t(j)];
      per_image[size_t(i * k + j)] = n * num_levels + i;
    }
  const Tensor category =
      where(valid, where(trick, Tensor::from_vector(per_image, {n, k}, dev), Tensor::from_vector(per_level, {n, k}, dev)),
            Tensor::full({n, k}, double(n * num_levels + n), DType::Int64, dev));
  const Tensor kept = logical_and(
      batched_nms_mask(nms_boxes.reshape({-1, 4}), scores.reshape({-1}), category.reshape({-1}), cfg.RPN_NMS_THRESHOLD)
          .view({n, k}),
      valid);
  const Tensor order = argsort(where(kept, scores, -1.0), 1, true);  // survivors first, by decreasing score
  const std::vector<int64_t> counts =
      clamp_max(sum(kept.to(DType::Float32), {1}), double(post_n)).to(DType::Int64).to_vector<int64_t>();  // the read
  for (int64_t i = 0; i < n; ++i) {
    const Tensor sel = order[i].narrow(0, 0, counts[size_t(i)]);
    out.boxes.push_back(index_select(boxes[i], 0, sel));
    out.scores.push_back(index_select(scores[i], 0, sel));
  }
}

}  // namespace

RpnOutput RegionProposalNetwork::forward(const ImageList& images, const std::vector<Tensor>& features,
                                         const std::vector<Target>* targets, const RunContext& ctx,
                                         const std::pair<std::vector<Tensor>, std::vector<Tensor>>* head_out) {
  profile::Scope stage("rpn");
  if (features.size() != sizes_.size())
    throw std::invalid_argument("RegionProposalNetwork: got " + std::to_string(features.size()) +
                                " feature maps for " + std::to_string(sizes_.size()) + " anchor sizes (RPN_ANCHOR_SCALES)");
  const bool training = is_training();
  const int64_t n_img = images.tensors.size(0);
  const Device dev = images.tensors.device();
  auto [logits, deltas_l] = head_out ? *head_out : head->forward(features, &ctx);

  std::vector<std::pair<int64_t, int64_t>> fsizes;
  std::vector<int64_t> per_level;
  std::vector<Tensor> cls_flat, reg_flat;
  for (size_t l = 0; l < features.size(); ++l) {
    ctx.record("rpn.objectness." + std::to_string(l), logits[l]);
    ctx.record("rpn.deltas." + std::to_string(l), deltas_l[l]);
    fsizes.push_back({features[l].size(2), features[l].size(3)});
    const int64_t a = deltas_l[l].size(1) / 4;
    per_level.push_back(logits[l].size(1) * logits[l].size(2) * logits[l].size(3));
    cls_flat.push_back(permute_and_flatten(logits[l], a, logits[l].size(1) / a));
    reg_flat.push_back(permute_and_flatten(deltas_l[l], a, 4));
  }
  const Tensor anchors =
      generate_anchors(sizes_, ratios_, fsizes, images.tensors.size(2), images.tensors.size(3), dev);  // [T, 4]
  const int64_t total = anchors.size(0);
  const Tensor objectness = cat(cls_flat, 1).flatten(0, -2);  // [N*T, 1]
  const Tensor pred_deltas = cat(reg_flat, 1).reshape({-1, 4});  // [N*T, 4]

  const BoxCoderWeights rpn_w = weights_of(cfg_.RPN_BBOX_WEIGHTS);
  std::vector<Tensor> anchor_copies(static_cast<size_t>(n_img), anchors);
  const Tensor proposals = decode_boxes(pred_deltas.detach(), cat(anchor_copies, 0), rpn_w).view({n_img, -1, 4});

  // ---- filter_proposals ----
  RpnOutput out;
  {
    NoGradGuard ng;
    const Tensor obj = objectness.detach().reshape({n_img, -1});
    const int64_t pre_n = training ? cfg_.PRE_NMS_LIMIT_TRAINING : cfg_.PRE_NMS_LIMIT_INFERENCE;
    const int64_t post_n = training ? cfg_.POST_NMS_ROIS_TRAINING : cfg_.POST_NMS_ROIS_INFERENCE;
    std::vector<Tensor> top_idx;
    std::vector<int64_t> level_of;  // the level of each selected column
    int64_t offset = 0;
    for (size_t l = 0; l < per_level.size(); ++l) {
      const int64_t k = std::min(pre_n, per_level[l]);
      top_idx.push_back(add(topk(obj.narrow(1, offset, per_level[l]), k, 1).second, double(offset)));
      level_of.insert(level_of.end(), size_t(k), int64_t(l));
      offset += per_level[l];
    }
    const Tensor idx = cat(top_idx, 1);  // [N, sum k]
    const Tensor levels = Tensor::from_vector(level_of, {int64_t(level_of.size())}, dev);
    const bool all_at_once = training && device_samplers();
    if (all_at_once)
      filter_all_images(obj, proposals, idx, level_of, int64_t(per_level.size()), images.image_sizes, cfg_, post_n, out);
    for (int64_t i = 0; i < n_img && !all_at_once; ++i) {
      const Tensor sel = idx[i];
      Tensor scores = sigmoid(index_select(obj[i], 0, sel));
      Tensor boxes = index_select(proposals[i], 0, sel);
      Tensor lvl = levels;
      boxes = clip_boxes(boxes, images.image_sizes[size_t(i)].first, images.image_sizes[size_t(i)].second);
      Tensor keep = remove_small_boxes(boxes, cfg_.RPN_MIN_SIZE);
      boxes = index_select(boxes, 0, keep);
      scores = index_select(scores, 0, keep);
      lvl = index_select(lvl, 0, keep);
      keep = nonzero(ge(scores, cfg_.RPN_SCORE_THRESHOLD)).flatten();
      boxes = index_select(boxes, 0, keep);
      scores = index_select(scores, 0, keep);
      lvl = index_select(lvl, 0, keep);
      keep = batched_nms(boxes, scores, lvl, cfg_.RPN_NMS_THRESHOLD);
      keep = keep.narrow(0, 0, std::min(post_n, keep.size(0)));
      out.boxes.push_back(index_select(boxes, 0, keep));
      out.scores.push_back(index_select(scores, 0, keep));
    }
    for (int64_t i = 0; i < n_img; ++i) {
      ctx.record("rpn.proposals." + std::to_string(i), out.boxes[size_t(i)]);
      ctx.record("rpn.scores." + std::to_string(i), out.scores[size_t(i)]);
    }
  }
  if (!training) return out;

  // ---- targets, sampling, losses ----
  if (!targets || int64_t(targets->size()) != n_img)
    throw std::invalid_argument("RegionProposalNetwork: training needs one target per image");
  std::vector<Tensor> labels, reg_targets, pos_masks, neg_masks;
  {
    NoGradGuard ng;
    const MatcherParams mp{cfg_.RPN_FG_IOU_THRESHOLD, cfg_.RPN_BG_IOU_THRESHOLD, true};
    for (int64_t i = 0; i < n_img; ++i) {
      const Tensor& gt = (*targets)[size_t(i)].boxes;
      Tensor lab, matched_gt;
      if (gt.numel() == 0) {
        lab = Tensor::zeros({total}, DType::Float32, dev);
        matched_gt = Tensor::zeros({total, 4}, DType::Float32, dev);
      } else {
        const Tensor m = match_boxes(box_iou(gt, anchors), mp);
        matched_gt = index_select(gt, 0, where(ge(m, 0.0), m, 0.0));
        // 1 matched, 0 below the low threshold, -1 between the thresholds (ignored)
        lab = where(ge(m, 0.0), Tensor::ones({total}, DType::Float32, dev),
                    where(eq(m, double(kernels::kBetweenThresholds)), Tensor::full({total}, -1.0, DType::Float32, dev),
                          Tensor::zeros({total}, DType::Float32, dev)));
      }
      labels.push_back(lab);
      reg_targets.push_back(encode_boxes(matched_gt, anchors, rpn_w));
      const SampledMasks s = ctx.sample(SamplerStage::Rpn, i, lab, anchors, cfg_.RPN_TRAIN_ANCHORS_PER_IMAGE,
                                        cfg_.RPN_POSITIVE_RATIO);
      ctx.record("rpn.sampled_pos." + std::to_string(i), s.positive);
      ctx.record("rpn.sampled_neg." + std::to_string(i), s.negative);
      pos_masks.push_back(s.positive);
      neg_masks.push_back(s.negative);
    }
  }
  const Tensor all_labels = cat(labels, 0), all_targets = cat(reg_targets, 0);
  if (device_samplers()) {
    // every anchor weighted by its sampled mask: the same sums as the gathered form below (in another order),
    // with the sample count kept on the device
    const Tensor pos_w = cat(pos_masks, 0).to(DType::Float32), neg_w = cat(neg_masks, 0).to(DType::Float32);
    const Tensor sampled_w = add(pos_w, neg_w);
    const Tensor count = clamp_min(sum(sampled_w), 1.0);
    out.loss_box_reg = div(sum(mul(smooth_l1_loss(pred_deltas, all_targets, 1.0 / 9, Reduction::None), pos_w.unsqueeze(1))),
                           count);
    out.loss_objectness = div(binary_cross_entropy_with_logits(objectness.flatten(), where(ge(all_labels, 0.0), all_labels, 0.0),
                                                               sampled_w, Reduction::Sum),
                              count);
    return out;
  }
  const Tensor pos = nonzero(cat(pos_masks, 0)).flatten();
  const Tensor neg = nonzero(cat(neg_masks, 0)).flatten();
  const Tensor sampled = cat({pos, neg}, 0);
  out.loss_box_reg = div(smooth_l1_loss(index_select(pred_deltas, 0, pos), index_select(all_targets, 0, pos), 1.0 / 9,
                                        Reduction::Sum),
                         Tensor::scalar(double(std::max<int64_t>(sampled.numel(), 1)), DType::Float32, dev));
  out.loss_objectness = binary_cross_entropy_with_logits(index_select(objectness.flatten(), 0, sampled),
                                                         index_select(all_labels, 0, sampled));
  return out;
}

}  // namespace mrc::maskrcnn

// COCO-style AP (see evaluate.h). The steps and their tie rules follow pycocotools' COCOeval
// (evaluateImg, accumulate, summarize) so that both give the same numbers on the same input.
#include "train/evaluate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace mrc::train {
namespace {

constexpr int kIouThresholds = 10;   // 0.50:0.05:0.95
constexpr int kRecallPoints = 101;   // 0:0.01:1

double iou_threshold(int i) {  // as numpy.linspace(.5, .95, 10)
  return i == kIouThresholds - 1 ? 0.95 : double(i) * ((0.95 - 0.5) / (kIouThresholds - 1)) + 0.5;
}
double recall_threshold(int i) {  // as numpy.linspace(0, 1, 101)
  return i == kRecallPoints - 1 ? 1.0 : double(i) * (1.0 / (kRecallPoints - 1));
}

// COCO boxes are x, y, w, h: the corners are turned into that form first, in float, as a results file holds them.
std::array<double, 4> xywh(const std::array<float, 4>& b) {
  return {double(b[0]), double(b[1]), double(b[2] - b[0]), double(b[3] - b[1])};
}

double box_iou(const std::array<float, 4>& d, const std::array<float, 4>& g) {
  const auto a = xywh(d), b = xywh(g);
  const double w = std::min(a[0] + a[2], b[0] + b[2]) - std::max(a[0], b[0]);
  const double h = std::min(a[1] + a[3], b[1] + b[3]) - std::max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const double inter = w * h, uni = a[2] * a[3] + b[2] * b[3] - inter;
  return inter / uni;
}

double mask_iou(const data::Mask& d, const data::Mask& g) {
  int64_t inter = 0, uni = 0;
  for (size_t k = 0; k < d.pixels.size(); ++k) {
    const bool a = d.pixels[k] != 0, b = g.pixels[k] != 0;
    inter += a && b;
    uni += a || b;
  }
  return uni ? double(inter) / double(uni) : 0.0;
}

// One class in one photo: detections (best first, at most max_det) against its ground truth.
struct ImageClassEval {
  std::vector<float> scores;
  std::vector<std::array<bool, kIouThresholds>> matched;  // per detection
  int64_t ground_truth = 0;
};

ImageClassEval evaluate_image_class(const std::vector<size_t>& dets, const std::vector<size_t>& gts,
                                    const PhotoDetections& d, const GroundTruth& g, bool masks, int max_det) {
  ImageClassEval e;
  e.ground_truth = int64_t(gts.size());
  std::vector<size_t> order = dets;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return d.scores[a] > d.scores[b]; });
  if (order.size() > size_t(max_det)) order.resize(size_t(max_det));
  std::vector<std::vector<double>> ious(order.size(), std::vector<double>(gts.size()));
  for (size_t i = 0; i < order.size(); ++i)
    for (size_t j = 0; j < gts.size(); ++j)
      ious[i][j] = masks ? mask_iou(d.masks[order[i]], g.masks[gts[j]]) : box_iou(d.boxes[order[i]], g.boxes[gts[j]]);
  std::vector<std::array<bool, kIouThresholds>> gt_taken(gts.size());
  for (auto& t : gt_taken) t.fill(false);
  for (size_t i = 0; i < order.size(); ++i) {
    e.scores.push_back(d.scores[order[i]]);
    std::array<bool, kIouThresholds> m{};
    for (int t = 0; t < kIouThresholds; ++t) {
      double best = std::min(iou_threshold(t), 1 - 1e-10);
      int hit = -1;
      for (size_t j = 0; j < gts.size(); ++j) {
        if (gt_taken[j][size_t(t)] || ious[i][j] < best) continue;
        best = ious[i][j];
        hit = int(j);
      }
      if (hit >= 0) gt_taken[size_t(hit)][size_t(t)] = m[size_t(t)] = true;
    }
    e.matched.push_back(m);
  }
  return e;
}

// Precision at the 101 recall points for each IoU threshold, from one class's evaluations over all photos.
std::vector<std::array<double, kRecallPoints>> precision_curves(const std::vector<ImageClassEval>& evals) {
  std::vector<float> scores;
  std::vector<const std::array<bool, kIouThresholds>*> matched;
  int64_t positives = 0;
  for (const ImageClassEval& e : evals) {
    positives += e.ground_truth;
    for (size_t i = 0; i < e.scores.size(); ++i) {
      scores.push_back(e.scores[i]);
      matched.push_back(&e.matched[i]);
    }
  }
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  std::vector<std::array<double, kRecallPoints>> curves(kIouThresholds);
  const double eps = std::numeric_limits<double>::epsilon();
  for (int t = 0; t < kIouThresholds; ++t) {
    std::vector<double> recall, precision;
    double tp = 0, fp = 0;
    for (size_t k : order) {
      ((*matched[k])[size_t(t)] ? tp : fp) += 1;
      recall.push_back(tp / double(positives));
      precision.push_back(tp / (fp + tp + eps));
    }
    for (size_t i = precision.size(); i-- > 1;) precision[i - 1] = std::max(precision[i - 1], precision[i]);
    auto& q = curves[size_t(t)];
    q.fill(0);
    for (int r = 0; r < kRecallPoints; ++r) {
      const size_t at = size_t(std::lower_bound(recall.begin(), recall.end(), recall_threshold(r)) - recall.begin());
      if (at < precision.size()) q[size_t(r)] = precision[at];
    }
  }
  return curves;
}

ApResult average_precision(const std::vector<GroundTruth>& truth, const std::vector<PhotoDetections>& dets, bool masks,
                           int max_det) {
  std::map<int64_t, std::vector<ImageClassEval>> per_class;
  for (size_t p = 0; p < truth.size(); ++p) {
    std::map<int64_t, std::pair<std::vector<size_t>, std::vector<size_t>>> by_class;  // detections, ground truth
    for (size_t i = 0; i < dets[p].labels.size(); ++i) by_class[dets[p].labels[i]].first.push_back(i);
    for (size_t j = 0; j < truth[p].labels.size(); ++j) by_class[truth[p].labels[j]].second.push_back(j);
    for (const auto& [c, dg] : by_class)
      per_class[c].push_back(evaluate_image_class(dg.first, dg.second, dets[p], truth[p], masks, max_det));
  }
  ApResult r;
  double sum_all = 0, sum50 = 0, sum75 = 0;
  int64_t n_all = 0, n_classes = 0;
  for (const auto& [c, evals] : per_class) {
    int64_t positives = 0;
    for (const ImageClassEval& e : evals) positives += e.ground_truth;
    if (positives == 0) continue;  // COCOeval leaves such classes out of the mean
    const auto curves = precision_curves(evals);
    double c50 = 0;
    for (int t = 0; t < kIouThresholds; ++t)
      for (double v : curves[size_t(t)]) sum_all += v, ++n_all;
    for (double v : curves[0]) c50 += v;
    for (double v : curves[5]) sum75 += v;
    sum50 += c50;
    r.ap50_per_class[c] = c50 / kRecallPoints;
    ++n_classes;
  }
  if (n_classes) {
    r.ap = sum_all / double(n_all);
    r.ap50 = sum50 / double(n_classes * kRecallPoints);
    r.ap75 = sum75 / double(n_classes * kRecallPoints);
  }
  return r;
}

}  // namespace

Evaluation evaluate_detections(const std::vector<GroundTruth>& truth, const std::vector<PhotoDetections>& detections,
                               int max_detections) {
  if (truth.size() != detections.size())
    throw std::invalid_argument("evaluate_detections: " + std::to_string(truth.size()) + " photos of ground truth, " +
                                std::to_string(detections.size()) + " of detections");
  Evaluation e;
  e.images = int64_t(truth.size());
  for (size_t p = 0; p < truth.size(); ++p) {
    e.ground_truth += int64_t(truth[p].labels.size());
    e.detections += int64_t(detections[p].labels.size());
    for (const data::Mask& dm : detections[p].masks)
      for (const data::Mask& gm : truth[p].masks)
        if (dm.width != gm.width || dm.height != gm.height)
          throw std::invalid_argument("evaluate_detections: photo " + std::to_string(p) + ": a " + std::to_string(dm.width) +
                                      "x" + std::to_string(dm.height) + " detection mask against " +
                                      std::to_string(gm.width) + "x" + std::to_string(gm.height) + " ground truth");
  }
  e.mask = average_precision(truth, detections, true, max_detections);
  e.box = average_precision(truth, detections, false, max_detections);
  return e;
}

nlohmann::json evaluation_to_json(const Evaluation& e, const std::vector<std::string>& class_names) {
  auto result = [&](const ApResult& r) {
    nlohmann::json per = nlohmann::json::object();
    for (const auto& [c, v] : r.ap50_per_class)
      per[size_t(c) < class_names.size() ? class_names[size_t(c)] : std::to_string(c)] = v;
    return nlohmann::json{{"AP", r.ap}, {"AP50", r.ap50}, {"AP75", r.ap75}, {"AP50_per_class", per}};
  };
  return {{"images", e.images},
          {"ground_truth", e.ground_truth},
          {"detections", e.detections},
          {"segm", result(e.mask)},
          {"bbox", result(e.box)}};
}

}  // namespace mrc::train

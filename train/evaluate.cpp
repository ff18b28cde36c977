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

// Intersection and union in pixels.
std::pair<int64_t, int64_t> mask_overlap(const data::Mask& d, const data::Mask& g) {
  int64_t inter = 0, uni = 0;
  for (size_t k = 0; k < d.pixels.size(); ++k) {
    const bool a = d.pixels[k] != 0, b = g.pixels[k] != 0;
    inter += a && b;
    uni += a || b;
  }
  return {inter, uni};
}

double mask_iou(const data::Mask& d, const data::Mask& g) {
  const auto [inter, uni] = mask_overlap(d, g);
  return uni ? double(inter) / double(uni) : 0.0;
}

int64_t mask_area(const data::Mask& m) {
  int64_t n = 0;
  for (uint8_t v : m.pixels) n += v != 0;
  return n;
}

// COCO's area ranges: all, small, medium, large; and the detection counts AR is read at.
constexpr int kAreas = 4;
constexpr std::array<std::array<double, 2>, kAreas> kAreaRanges = {{{0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}}};
constexpr std::array<int, 3> kMaxDets = {1, 10, 100};

// One class in one photo for one area range: detections (best first, at most max_det) against its ground truth.
struct ImageClassEval {
  std::vector<float> scores;
  std::vector<std::array<bool, kIouThresholds>> matched, ignored;  // per detection
  int64_t counted_truth = 0;                                       // ground truth inside the area range
};

// The detections and ground truth of one class in one photo, with their IoUs (detections by score).
struct ImageClass {
  std::vector<size_t> dets, gts;                   // indices into the photo's lists; dets best first, <= max_det
  std::vector<std::vector<double>> ious;           // [det][gt]
};

ImageClass pair_up(std::vector<size_t> dets, std::vector<size_t> gts, const PhotoDetections& d, const GroundTruth& g,
                   bool masks, int max_det) {
  ImageClass ic;
  std::stable_sort(dets.begin(), dets.end(), [&](size_t a, size_t b) { return d.scores[a] > d.scores[b]; });
  if (dets.size() > size_t(max_det)) dets.resize(size_t(max_det));
  ic.ious.assign(dets.size(), std::vector<double>(gts.size()));
  for (size_t i = 0; i < dets.size(); ++i)
    for (size_t j = 0; j < gts.size(); ++j)
      ic.ious[i][j] = masks ? mask_iou(d.masks[dets[i]], g.masks[gts[j]]) : box_iou(d.boxes[dets[i]], g.boxes[gts[j]]);
  ic.dets = std::move(dets);
  ic.gts = std::move(gts);
  return ic;
}

// COCOeval.evaluateImg: gt_areas / det_areas by the indices of `ic`.
ImageClassEval evaluate_image_class(const ImageClass& ic, const PhotoDetections& d, const std::vector<double>& gt_areas,
                                    const std::vector<double>& det_areas, const std::array<double, 2>& range) {
  auto outside = [&](double area) { return area < range[0] || area > range[1]; };
  // ground truth inside the range first (a stable order, as numpy's mergesort)
  std::vector<size_t> order(ic.gts.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return !outside(gt_areas[a]) && outside(gt_areas[b]); });
  ImageClassEval e;
  std::vector<bool> gt_ignore(order.size());
  for (size_t k = 0; k < order.size(); ++k) {
    gt_ignore[k] = outside(gt_areas[order[k]]);
    e.counted_truth += !gt_ignore[k];
  }
  std::vector<std::array<bool, kIouThresholds>> gt_taken(order.size());
  for (auto& t : gt_taken) t.fill(false);
  for (size_t i = 0; i < ic.dets.size(); ++i) {
    e.scores.push_back(d.scores[ic.dets[i]]);
    std::array<bool, kIouThresholds> m{}, ig{};
    for (int t = 0; t < kIouThresholds; ++t) {
      double best = std::min(iou_threshold(t), 1 - 1e-10);
      int hit = -1;
      for (size_t k = 0; k < order.size(); ++k) {
        if (gt_taken[k][size_t(t)]) continue;
        if (hit > -1 && !gt_ignore[size_t(hit)] && gt_ignore[k]) break;  // a counted match beats an ignored one
        if (ic.ious[i][order[k]] < best) continue;
        best = ic.ious[i][order[k]];
        hit = int(k);
      }
      if (hit >= 0) {
        gt_taken[size_t(hit)][size_t(t)] = m[size_t(t)] = true;
        ig[size_t(t)] = gt_ignore[size_t(hit)];
      } else {
        ig[size_t(t)] = outside(det_areas[i]);  // an unmatched detection outside the range does not count
      }
    }
    e.matched.push_back(m);
    e.ignored.push_back(ig);
  }
  return e;
}

struct Curves {
  std::vector<std::array<double, kRecallPoints>> precision;  // per IoU threshold
  std::array<double, kIouThresholds> recall{};
};

// COCOeval.accumulate for one class, area range and detection count: the evaluations of all photos.
Curves accumulate(const std::vector<const ImageClassEval*>& evals, int max_det, int64_t positives) {
  std::vector<float> scores;
  std::vector<std::pair<const ImageClassEval*, size_t>> at;
  for (const ImageClassEval* e : evals)
    for (size_t i = 0; i < e->scores.size() && i < size_t(max_det); ++i) {
      scores.push_back(e->scores[i]);
      at.emplace_back(e, i);
    }
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  Curves c;
  c.precision.resize(kIouThresholds);
  const double eps = std::numeric_limits<double>::epsilon();
  for (int t = 0; t < kIouThresholds; ++t) {
    std::vector<double> recall, precision;
    double tp = 0, fp = 0;
    for (size_t k : order) {
      const auto& [e, i] = at[k];
      if (!e->ignored[i][size_t(t)]) (e->matched[i][size_t(t)] ? tp : fp) += 1;
      recall.push_back(tp / double(positives));
      precision.push_back(tp / (fp + tp + eps));
    }
    c.recall[size_t(t)] = recall.empty() ? 0 : recall.back();
    for (size_t i = precision.size(); i-- > 1;) precision[i - 1] = std::max(precision[i - 1], precision[i]);
    auto& q = c.precision[size_t(t)];
    q.fill(0);
    for (int r = 0; r < kRecallPoints; ++r) {
      const size_t pos = size_t(std::lower_bound(recall.begin(), recall.end(), recall_threshold(r)) - recall.begin());
      if (pos < precision.size()) q[size_t(r)] = precision[pos];
    }
  }
  return c;
}

// Mean of the entries that exist (COCOeval's s[s > -1]); -1 when none.
struct Mean {
  double sum = 0;
  int64_t n = 0;
  void add(double v) { sum += v, ++n; }
  double value() const { return n ? sum / double(n) : -1; }
};

ApResult average_precision(const std::vector<GroundTruth>& truth, const std::vector<PhotoDetections>& dets, bool masks,
                           int max_det) {
  // per class: each photo's pairing and its evaluation for each area range
  std::map<int64_t, std::vector<std::array<ImageClassEval, kAreas>>> per_class;
  for (size_t p = 0; p < truth.size(); ++p) {
    std::map<int64_t, std::pair<std::vector<size_t>, std::vector<size_t>>> by_class;  // detections, ground truth
    for (size_t i = 0; i < dets[p].labels.size(); ++i) by_class[dets[p].labels[i]].first.push_back(i);
    for (size_t j = 0; j < truth[p].labels.size(); ++j) by_class[truth[p].labels[j]].second.push_back(j);
    for (const auto& [c, dg] : by_class) {
      const ImageClass ic = pair_up(dg.first, dg.second, dets[p], truth[p], masks, max_det);
      std::vector<double> gt_areas, det_areas;
      for (size_t j : ic.gts) gt_areas.push_back(double(mask_area(truth[p].masks[j])));
      for (size_t i : ic.dets) {
        const auto b = xywh(dets[p].boxes[i]);
        det_areas.push_back(masks ? double(mask_area(dets[p].masks[i])) : b[2] * b[3]);
      }
      std::array<ImageClassEval, kAreas> by_area;
      for (int a = 0; a < kAreas; ++a) by_area[size_t(a)] = evaluate_image_class(ic, dets[p], gt_areas, det_areas, kAreaRanges[size_t(a)]);
      per_class[c].push_back(std::move(by_area));
    }
  }
  ApResult r;
  Mean ap, ap50, ap75;
  std::array<Mean, kAreas> ap_area;
  std::array<Mean, kMaxDets.size()> ar_dets;
  std::array<Mean, kAreas> ar_area;
  for (const auto& [c, evals] : per_class) {
    for (int a = 0; a < kAreas; ++a) {
      std::vector<const ImageClassEval*> list;
      int64_t positives = 0;
      for (const auto& e : evals) list.push_back(&e[size_t(a)]), positives += e[size_t(a)].counted_truth;
      if (positives == 0) continue;  // COCOeval leaves such classes out of the means
      for (size_t m = 0; m < kMaxDets.size(); ++m) {
        const Curves cv = accumulate(list, kMaxDets[m], positives);
        const bool all_100 = m == kMaxDets.size() - 1;
        if (all_100) {
          for (int t = 0; t < kIouThresholds; ++t)
            for (double v : cv.precision[size_t(t)]) ap_area[size_t(a)].add(v);
          for (double v : cv.recall) ar_area[size_t(a)].add(v);
        }
        if (a != 0) continue;
        for (double v : cv.recall) ar_dets[m].add(v);
        if (!all_100) continue;
        ClassAp k;
        Mean k_all, k50, k75;
        for (int t = 0; t < kIouThresholds; ++t)
          for (double v : cv.precision[size_t(t)]) k_all.add(v);
        for (double v : cv.precision[0]) k50.add(v), ap50.add(v);
        for (double v : cv.precision[5]) k75.add(v), ap75.add(v);
        k.ap = k_all.value(), k.ap50 = k50.value(), k.ap75 = k75.value();
        k.precision50 = cv.precision[0];
        r.per_class[c] = k;
        r.ap50_per_class[c] = k.ap50;
      }
    }
  }
  r.ap = ap_area[0].value(), r.ap50 = ap50.value(), r.ap75 = ap75.value();
  r.ap_small = ap_area[1].value(), r.ap_medium = ap_area[2].value(), r.ap_large = ap_area[3].value();
  r.ar1 = ar_dets[0].value(), r.ar10 = ar_dets[1].value(), r.ar100 = ar_dets[2].value();
  r.ar_small = ar_area[1].value(), r.ar_medium = ar_area[2].value(), r.ar_large = ar_area[3].value();
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
  double sum = 0;
  int64_t n = 0;
  for (size_t p = 0; p < truth.size(); ++p)
    if (const double ap = matterport_ap(truth[p], detections[p]); ap >= 0) sum += ap, ++n;
  e.matterport_map = n ? sum / double(n) : -1;
  return e;
}

namespace {

// numpy's argsort(v, kind="stable")[::-1]: by value, highest first, ties by the higher index first.
std::vector<size_t> descending(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::reverse(order.begin(), order.end());
  return order;
}

}  // namespace

double matterport_ap(const GroundTruth& truth, const PhotoDetections& d, double iou_threshold) {
  if (truth.labels.empty()) return -1;
  const std::vector<size_t> order = descending(std::vector<double>(d.scores.begin(), d.scores.end()));
  std::vector<bool> gt_matched(truth.labels.size(), false);
  std::vector<double> precision{0}, recall{0};
  int64_t matches = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const size_t det = order[i];
    std::vector<double> overlaps;
    for (size_t j = 0; j < truth.labels.size(); ++j) {  // in float32, as matterport's compute_overlaps_masks
      const auto [inter, uni] = mask_overlap(d.masks[det], truth.masks[j]);
      overlaps.push_back(double(float(inter) / float(uni)));
    }
    for (size_t j : descending(overlaps)) {
      if (gt_matched[j]) continue;
      if (overlaps[j] < iou_threshold) break;
      if (truth.labels[j] == d.labels[det]) {
        gt_matched[j] = true;
        ++matches;
        break;
      }
    }
    precision.push_back(double(matches) / double(i + 1));
    recall.push_back(double(float(matches) / float(truth.labels.size())));  // matterport's recalls are float32
  }
  precision.push_back(0);
  recall.push_back(1);
  for (size_t i = precision.size() - 1; i-- > 0;) precision[i] = std::max(precision[i], precision[i + 1]);
  double ap = 0;
  for (size_t i = 1; i < recall.size(); ++i)
    if (recall[i] != recall[i - 1]) ap += (recall[i] - recall[i - 1]) * precision[i];
  return ap;
}

nlohmann::json evaluation_to_json(const Evaluation& e, const std::vector<std::string>& class_names) {
  auto name = [&](int64_t c) { return size_t(c) < class_names.size() ? class_names[size_t(c)] : std::to_string(c); };
  auto result = [&](const ApResult& r) {
    nlohmann::json per50 = nlohmann::json::object(), per = nlohmann::json::object();
    for (const auto& [c, v] : r.ap50_per_class) per50[name(c)] = v;
    for (const auto& [c, k] : r.per_class) per[name(c)] = {{"AP", k.ap}, {"AP50", k.ap50}, {"AP75", k.ap75}};
    return nlohmann::json{{"AP", r.ap},         {"AP50", r.ap50},          {"AP75", r.ap75},
                          {"AP_small", r.ap_small}, {"AP_medium", r.ap_medium}, {"AP_large", r.ap_large},
                          {"AR1", r.ar1},       {"AR10", r.ar10},          {"AR100", r.ar100},
                          {"AR_small", r.ar_small}, {"AR_medium", r.ar_medium}, {"AR_large", r.ar_large},
                          {"AP50_per_class", per50}, {"per_class", per}};
  };
  return {{"images", e.images},
          {"ground_truth", e.ground_truth},
          {"detections", e.detections},
          {"matterport_mAP50", e.matterport_map},
          {"segm", result(e.mask)},
          {"bbox", result(e.box)}};
}

}  // namespace mrc::train

// Detection accuracy as COCO measures it (pycocotools' COCOeval, iouType "segm" and "bbox"): per class,
// detections of all photos ranked by score, each matched greedily to the unmatched ground truth it overlaps
// most at IoU >= t (ground truth outside the area range only when nothing else fits, and then ignored);
// precision made monotone and read at 101 recall points; AP averaged over the classes that have ground truth.
// AP50 is t = 0.5, AP the mean over t = 0.50, 0.55, ..., 0.95; small / medium / large are ground-truth areas
// below 32², up to 96², above (the mask's pixel count, for boxes too, as COCO's "area" field); AR@k is the
// recall with the best k detections per photo and class. And matterport's own figure (utils.compute_ap at IoU
// 0.5 per photo, averaged over the photos that have ground truth).
#pragma once
#include <array>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/image.h"
#include "train/predict.h"

namespace mrc::train {

struct GroundTruth {
  std::vector<std::array<float, 4>> boxes;  // x1, y1, x2, y2
  std::vector<int64_t> labels;
  std::vector<data::Mask> masks;            // at the photo's size
};

struct ClassAp {
  double ap = -1, ap50 = -1, ap75 = -1;
  std::array<double, 101> precision50{};     // precision at recall 0, 0.01, ..., 1 (IoU 0.5, 100 detections)
};

// COCOeval's 12 summary figures (-1 where no class has ground truth in that area range) and the per-class ones.
struct ApResult {
  double ap = -1, ap50 = -1, ap75 = -1, ap_small = -1, ap_medium = -1, ap_large = -1;
  double ar1 = -1, ar10 = -1, ar100 = -1, ar_small = -1, ar_medium = -1, ar_large = -1;
  std::map<int64_t, double> ap50_per_class; // classes with ground truth
  std::map<int64_t, ClassAp> per_class;     // classes with ground truth
};

struct Evaluation {
  ApResult mask, box;
  double matterport_map = -1;               // mean over photos with ground truth of compute_ap at mask IoU 0.5
  int64_t images = 0, ground_truth = 0, detections = 0;
};

// matterport's utils.compute_ap for one photo (masks, IoU threshold 0.5 by default): detections by score, each
// matched to the highest-IoU ground truth not yet matched, stopping at the first below the threshold, counted
// when the classes agree; AP = area under the precision envelope at the recall steps. -1 without ground truth.
double matterport_ap(const GroundTruth& truth, const PhotoDetections& detections, double iou_threshold = 0.5);

// One entry per photo on both sides. Throws std::invalid_argument naming the photo when a mask's size
// differs from its ground truth's.
Evaluation evaluate_detections(const std::vector<GroundTruth>& truth, const std::vector<PhotoDetections>& detections,
                               int max_detections = 100);

nlohmann::json evaluation_to_json(const Evaluation& e, const std::vector<std::string>& class_names);

}  // namespace mrc::train

// Detection accuracy as COCO measures it (pycocotools' COCOeval, iouType "segm" and "bbox", area "all",
// up to 100 detections per image): per class, detections of all photos ranked by score, each matched
// greedily to the unmatched ground truth it overlaps most at IoU >= t; precision made monotone and read
// at 101 recall points; AP averaged over the classes that have ground truth. AP50 is t = 0.5 (the
// Keras study's mAP), AP the mean over t = 0.50, 0.55, ..., 0.95.
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

struct ApResult {
  double ap = -1, ap50 = -1, ap75 = -1;     // -1: no class has ground truth
  std::map<int64_t, double> ap50_per_class; // classes with ground truth
};

struct Evaluation {
  ApResult mask, box;
  int64_t images = 0, ground_truth = 0, detections = 0;
};

// One entry per photo on both sides. Throws std::invalid_argument naming the photo when a mask's size
// differs from its ground truth's.
Evaluation evaluate_detections(const std::vector<GroundTruth>& truth, const std::vector<PhotoDetections>& detections,
                               int max_detections = 100);

nlohmann::json evaluation_to_json(const Evaluation& e, const std::vector<std::string>& class_names);

}  // namespace mrc::train

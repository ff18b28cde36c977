// The evaluation report beside a JSON of figures (evaluation_to_json): precision-recall curves at IoU 0.5 (all
// classes and each class, masks and boxes) and a confusion matrix at mask IoU 0.5 with a background row (false
// detections) and column (missed ground truth), as CSV and PNG.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "train/evaluate.h"

namespace mrc::train {

// counts[t][p]: ground truth of class t detected as class p; row 0: detections matching no ground truth; column 0:
// ground truth no detection matched. Per photo, detections by score (at least min_score) take the unmatched ground
// truth of any class they overlap most, at mask IoU >= iou.
std::vector<std::vector<int64_t>> confusion_matrix(const std::vector<GroundTruth>& truth,
                                                   const std::vector<PhotoDetections>& detections, int64_t num_classes,
                                                   double iou = 0.5, double min_score = 0);

// Writes <stem>_pr_mask.png, <stem>_pr_box.png (each class and their mean), <stem>_pr/<class>.png (masks and
// boxes), <stem>_confusion.csv and <stem>_confusion.png, where `json_path` is <dir>/<stem>.json. Each atomically.
void write_evaluation_report(const std::string& json_path, const Evaluation& e, const std::vector<GroundTruth>& truth,
                             const std::vector<PhotoDetections>& detections, const std::vector<std::string>& class_names);

}  // namespace mrc::train

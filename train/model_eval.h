// A model's accuracy on an annotated dataset: every photo through detection (eval mode, the model's own
// resize), its masks and boxes scored against the ground truth with COCO's AP (evaluate.h).
#pragma once
#include "data/dataset.h"
#include "models/maskrcnn/maskrcnn.h"
#include "train/evaluate.h"

namespace mrc::train {

// Every photo's ground truth and detections (at the photo's size).
struct DatasetDetections {
  std::vector<GroundTruth> truth;
  std::vector<PhotoDetections> detections;
};

// Restores the model's train/eval mode afterwards. progress: a bar on stderr.
DatasetDetections detect_dataset(maskrcnn::MaskRCNN& model, const data::Dataset& dataset, bool progress = true);
Evaluation evaluate_model(maskrcnn::MaskRCNN& model, const data::Dataset& dataset, bool progress = true);

}  // namespace mrc::train

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

class Distributed;

// Restores the model's train/eval mode afterwards. progress: a bar on stderr. With a Distributed of
// several ranks (a collective), rank r detects photos r, r + N, ...; rank 0 gathers them and gets every
// photo (the same as one process computes); the other ranks get nothing (an empty result).
DatasetDetections detect_dataset(maskrcnn::MaskRCNN& model, const data::Dataset& dataset, bool progress = true,
                                 const Distributed* dist = nullptr);
Evaluation evaluate_model(maskrcnn::MaskRCNN& model, const data::Dataset& dataset, bool progress = true,
                          const Distributed* dist = nullptr);

}  // namespace mrc::train

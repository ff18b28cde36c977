// Running a trained Mask R-CNN on photos: a decoded photo in, its detections as plain data out (boxes,
// scores, labels, binary masks at the photo's size), plus their JSON form (COCO results with RLE masks)
// and their picture (data/overlay.h).
#pragma once
#include <array>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "data/image.h"
#include "models/maskrcnn/maskrcnn.h"

namespace mrc::train {

struct PhotoDetections {
  std::vector<std::array<float, 4>> boxes;  // x1, y1, x2, y2 in the photo's pixels
  std::vector<float> scores;                // decreasing
  std::vector<int64_t> labels;              // class ids 1..NUM_CLASSES-1
  std::vector<data::Mask> masks;            // probability > DETECTION_MASK_THRESHOLD, at the photo's size
};

// [3, H, W] float32 on [0, 1] (gray photos repeated over 3 channels, alpha dropped).
Tensor photo_to_tensor(const data::Image& photo);

// The model must be in eval mode; runs on the model's device.
PhotoDetections detect_photo(maskrcnn::MaskRCNN& model, const data::Image& photo);
PhotoDetections to_photo_detections(const maskrcnn::Detections& d, double mask_threshold);

// One entry per detection: {"image", "category_id", "category", "score", "bbox" [x, y, w, h],
// "segmentation" {"size" [h, w], "counts" (COCO compressed RLE)}}. With a dataset's ids (mrc-predict --data)
// also "image_id", and "category_id" is the dataset's category id of the class (category_ids[label]), so
// pycocotools' loadRes reads the list against that dataset's COCO form.
nlohmann::json detections_to_json(const PhotoDetections& d, const std::string& image,
                                  const std::vector<std::string>& class_names, int64_t image_id = -1,
                                  const std::vector<int64_t>& category_ids = {});

// The dataset's category id of each model class, matched by name ([0] = 0; data/coco.h numbering).
// Throws naming the dataset when a model class is not one of its classes.
std::vector<int64_t> category_ids_for(const data::Dataset& dataset, const std::vector<std::string>& model_classes);

// The detections scoring at least min_score drawn over the photo, captioned "class 0.97".
data::Image render_detections(const data::Image& photo, const PhotoDetections& d,
                              const std::vector<std::string>& class_names, double min_score);

}  // namespace mrc::train

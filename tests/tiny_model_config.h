// A Mask R-CNN config scaled down so that the app tests (predict, README workflow, experiments) train and
// segment 96x64 shapes photos in seconds: slim FPN and heads, few ROIs, and every detection kept (no
// confidence threshold) so that a barely trained model still produces detections to check.
#pragma once
#include <filesystem>
#include <fstream>

namespace mrc::test {

inline void write_tiny_model_config(const std::filesystem::path& path) {
  std::ofstream(path) << R"({"IMAGE_MIN_DIM": 64, "IMAGE_MAX_DIM": 96, "BACKBONE_NORM": "gn", "TRAINABLE_LAYERS": 5,
  "TOP_DOWN_PYRAMID_SIZE": 64, "GN_GROUPS": 16, "FPN_CLASSIF_FC_LAYERS_SIZE": 128, "MASK_HEAD_CHANNELS": 32,
  "RPN_ANCHOR_SCALES": [8, 16, 32, 64, 128], "PRE_NMS_LIMIT": 200, "POST_NMS_ROIS_TRAINING": 200,
  "POST_NMS_ROIS_INFERENCE": 100, "TRAIN_ROIS_PER_IMAGE": 32, "RPN_TRAIN_ANCHORS_PER_IMAGE": 64, "IMAGES_PER_GPU": 2,
  "VALIDATION_STEPS": 1, "DETECTION_MIN_CONFIDENCE": 0.0, "LEARNING_RATE": 0.001, "SEED": 4})";
}

}  // namespace mrc::test

// matterport's Mask_RCNN config keys (mrcnn/config.py) read into this model's Config: each key either has an
// equivalent here and is mapped onto it (BBOX_STD_DEV -> BBOX_WEIGHTS = 1 / std, MEAN_PIXEL on 0-255 ->
// IMAGE_MEAN / IMAGE_STD, GPU_COUNT x IMAGES_PER_GPU -> images per step, ...), or is refused with the reason.
// Keys spelled the same in both (LEARNING_RATE, DETECTION_MIN_CONFIDENCE, ...) are plain Config keys.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "models/maskrcnn/config.h"

namespace mrc::maskrcnn {

class MatterportKeys {
 public:
  // False when `key` is not one of matterport's keys. Throws std::runtime_error "<where>: key "KEY": ..." for a
  // value without an equivalent or a key this model cannot honour.
  bool read(Config& c, const std::string& key, const nlohmann::json& value, const std::string& where);
  // Applies what needs the whole file (GPU_COUNT multiplies IMAGES_PER_GPU wherever either is written).
  void finish(Config& c) const;

 private:
  int64_t gpu_count_ = 1;
};

}  // namespace mrc::maskrcnn

// matterport config keys -> Config (see config_matterport.h), and the named presets.
#include "models/maskrcnn/config_matterport.h"

#include <cmath>
#include <functional>
#include <map>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace mrc::maskrcnn {
namespace {

using json = nlohmann::json;

[[noreturn]] void refuse(const std::string& where, const std::string& key, const std::string& why, const json& got) {
  throw std::runtime_error(where + ": key \"" + key + "\" (matterport): " + why + ", got " + got.dump());
}

// matterport's standard deviations of the box deltas are the reciprocals of torchvision's box coder weights.
std::vector<double> reciprocal_std(const json& v, const std::string& where, const std::string& key) {
  if (!v.is_array() || v.size() != 4) refuse(where, key, "expected a list of 4 positive numbers", v);
  std::vector<double> w;
  for (const auto& e : v) {
    if (!e.is_number() || !(e.get<double>() > 0)) refuse(where, key, "expected a list of 4 positive numbers", v);
    w.push_back(1.0 / e.get<double>());
  }
  return w;
}

// A key accepted only with the one value this model implements.
void require_value(const json& v, const json& expected, const std::string& where, const std::string& key,
                   const std::string& why) {
  if (v != expected) refuse(where, key, why + "; only " + expected.dump() + " is supported", v);
}

using Reader = std::function<void(Config&, const json&, const std::string& where, int64_t& gpu_count)>;

const std::map<std::string, Reader>& readers() {
  static const std::map<std::string, Reader> r = {
      {"GPU_COUNT",
       [](Config&, const json& v, const std::string& w, int64_t& gpus) {
         if (!v.is_number_integer() || v.get<int64_t>() < 1) refuse(w, "GPU_COUNT", "expected a positive integer", v);
         gpus = v.get<int64_t>();  // one process trains on GPU_COUNT x IMAGES_PER_GPU images a step
       }},
      {"MEAN_PIXEL",
       [](Config& c, const json& v, const std::string& w, int64_t&) {
         if (!v.is_array() || v.size() != 3) refuse(w, "MEAN_PIXEL", "expected 3 numbers on 0-255 (RGB)", v);
         // matterport feeds (pixel - MEAN_PIXEL) on 0-255, i.e. (pixel/255 - MEAN_PIXEL/255) / (1/255)
         c.IMAGE_MEAN.clear();
         for (const auto& e : v) {
           if (!e.is_number() || e.get<double>() < 0 || e.get<double>() > 255)
             refuse(w, "MEAN_PIXEL", "expected 3 numbers on 0-255 (RGB)", v);
           c.IMAGE_MEAN.push_back(e.get<double>() / 255.0);
         }
         c.IMAGE_STD = {1.0 / 255, 1.0 / 255, 1.0 / 255};
       }},
      {"BBOX_STD_DEV",
       [](Config& c, const json& v, const std::string& w, int64_t&) { c.BBOX_WEIGHTS = reciprocal_std(v, w, "BBOX_STD_DEV"); }},
      {"RPN_BBOX_STD_DEV",
       [](Config& c, const json& v, const std::string& w, int64_t&) {
         c.RPN_BBOX_WEIGHTS = reciprocal_std(v, w, "RPN_BBOX_STD_DEV");
       }},
      {"TRAIN_BN",
       [](Config& c, const json& v, const std::string& w, int64_t&) {
         if (v.is_null() || v == false) c.BACKBONE_NORM = "frozen_bn";  // matterport's None and False both freeze
         else if (v == true) c.BACKBONE_NORM = "bn";
         else refuse(w, "TRAIN_BN", "expected true, false or null", v);
       }},
      {"IMAGE_RESIZE_MODE",
       [](Config&, const json& v, const std::string& w, int64_t&) {
         require_value(v, "square", w, "IMAGE_RESIZE_MODE",
                       "images are scaled as matterport's \"square\" mode scales them (shorter side to IMAGE_MIN_DIM, "
                       "longer side at most IMAGE_MAX_DIM) and padded to IMAGE_SIZE_DIVISIBLE instead of a square; "
                       "\"none\", \"pad64\" and \"crop\" have no equivalent");
       }},
      {"USE_MINI_MASK",
       [](Config&, const json& v, const std::string& w, int64_t&) {
         // Mini masks are matterport's memory saving; here the mask targets are cut from the full-resolution
         // masks per ROI (as torchvision does), which mini masks approximate. Either value trains the same model.
         if (!v.is_boolean()) refuse(w, "USE_MINI_MASK", "expected true or false", v);
       }},
      {"MINI_MASK_SHAPE",
       [](Config&, const json& v, const std::string& w, int64_t&) {
         if (!v.is_array() || v.size() != 2) refuse(w, "MINI_MASK_SHAPE", "expected [height, width]", v);
       }},
      {"IMAGE_MIN_SCALE",
       [](Config&, const json& v, const std::string& w, int64_t&) {
         require_value(v, 0, w, "IMAGE_MIN_SCALE", "there is no minimum scale-up");
       }},
      {"IMAGE_CHANNEL_COUNT",
       [](Config&, const json& v, const std::string& w, int64_t&) {
         require_value(v, 3, w, "IMAGE_CHANNEL_COUNT", "the backbone takes RGB photos");
       }},
      {"RPN_ANCHOR_STRIDE",
       [](Config&, const json& v, const std::string& w, int64_t&) {
         require_value(v, 1, w, "RPN_ANCHOR_STRIDE", "anchors sit at every feature-map cell");
       }},
      {"BACKBONE_STRIDES",
       [](Config&, const json& v, const std::string& w, int64_t&) {
         require_value(v, json::array({4, 8, 16, 32, 64}), w, "BACKBONE_STRIDES", "the FPN levels P2-P6 are fixed");
       }},
      {"USE_RPN_ROIS",
       [](Config&, const json& v, const std::string& w, int64_t&) {
         require_value(v, true, w, "USE_RPN_ROIS", "the heads train on the RPN's proposals");
       }},
      {"COMPUTE_BACKBONE_SHAPE",
       [](Config&, const json& v, const std::string& w, int64_t&) {
         require_value(v, nullptr, w, "COMPUTE_BACKBONE_SHAPE", "a Python callable cannot be given in JSON");
       }},
  };
  return r;
}

// Keys matterport derives from the others.
const std::map<std::string, std::string>& derived_keys() {
  static const std::map<std::string, std::string> d = {
      {"BATCH_SIZE", "matterport computes it as GPU_COUNT x IMAGES_PER_GPU; give those"},
      {"IMAGE_SHAPE", "matterport computes it from IMAGE_MAX_DIM; give IMAGE_MIN_DIM / IMAGE_MAX_DIM"},
      {"IMAGE_META_SIZE", "matterport computes it from NUM_CLASSES"},
  };
  return d;
}

}  // namespace

bool MatterportKeys::read(Config& c, const std::string& key, const nlohmann::json& value, const std::string& where) {
  if (const auto d = derived_keys().find(key); d != derived_keys().end())
    refuse(where, key, "derived, not a setting: " + d->second, value);
  const auto it = readers().find(key);
  if (it == readers().end()) return false;
  it->second(c, value, where, gpu_count_);
  return true;
}

void MatterportKeys::finish(Config& c) const { c.IMAGES_PER_GPU *= gpu_count_; }

nlohmann::json config_preset(const std::string& name) {
  if (name == "matterport")  // mrcnn/config.py's defaults where they differ from torchvision's
    return {{"IMAGE_MIN_DIM", 800},
            {"IMAGE_MAX_DIM", 1024},
            {"DETECTION_MIN_CONFIDENCE", 0.7},
            {"DETECTION_NMS_THRESHOLD", 0.3},
            {"TRAIN_ROIS_PER_IMAGE", 200},
            {"ROI_POSITIVE_RATIO", 0.33}};
  throw std::invalid_argument("preset \"" + name + "\": unknown (expected \"matterport\")");
}

}  // namespace mrc::maskrcnn

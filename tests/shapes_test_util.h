// The training tests' small world: a shapes dataset on disk (`count` 96x64 photos, at most 3 shapes each,
// written as JPEG + VIA 2.x into `dir` and read back with the shapes classes in their fixed order) and a
// Mask R-CNN scaled down to it.
#pragma once
#include <filesystem>

#include "data/load_dataset.h"
#include "data/shapes.h"
#include "models/maskrcnn/config.h"

namespace mrc::test {

inline data::Dataset shapes_dataset(const std::filesystem::path& dir, int count, uint64_t seed = 5) {
  data::ShapesOptions o;
  o.width = 96;
  o.height = 64;
  o.max_shapes = 3;
  o.seed = seed;
  data::write_shapes_dataset(dir.string(), count, o, false, false);
  data::DatasetOptions d;
  d.class_attribute = "class";
  d.class_names.assign(data::shapes_class_names().begin() + 1, data::shapes_class_names().end());
  return data::load_dataset((dir / "via_region_data.json").string(), "", d);
}

// A small Mask R-CNN on 96x64 shapes photos: every setting scaled down so that a step takes a fraction of a second.
inline maskrcnn::Config tiny_shapes_config() {
  maskrcnn::Config c;
  c.NUM_CLASSES = 6;
  c.IMAGE_MIN_DIM = 64;
  c.IMAGE_MAX_DIM = 96;
  c.BACKBONE_NORM = "gn";
  c.TRAINABLE_LAYERS = 5;
  c.RPN_ANCHOR_SCALES = {8, 16, 32, 64, 128};
  c.PRE_NMS_LIMIT_TRAINING = c.POST_NMS_ROIS_TRAINING = 200;
  c.PRE_NMS_LIMIT_INFERENCE = c.POST_NMS_ROIS_INFERENCE = 100;
  c.TRAIN_ROIS_PER_IMAGE = 32;
  c.RPN_TRAIN_ANCHORS_PER_IMAGE = 64;
  c.IMAGES_PER_GPU = 2;
  c.LEARNING_RATE = 0.01;
  c.SEED = 3;
  return c;
}

}  // namespace mrc::test

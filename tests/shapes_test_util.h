// A small shapes dataset on disk for the training tests: `count` 96x64 photos (at most 3 shapes each)
// written as JPEG + VIA 2.x into `dir` and read back with the shapes classes in their fixed order.
#pragma once
#include <filesystem>

#include "data/load_dataset.h"
#include "data/shapes.h"

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

}  // namespace mrc::test

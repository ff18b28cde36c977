// One entry point for any annotation file: detects VIA 1.x / 2.x / COCO and reads it; plus a
// validation pass that collects every problem (missing or unreadable images, size mismatches, EXIF
// rotations, degenerate or out-of-image regions, unknown classes) and per-class statistics, for
// mrc-dataset stats and for tools that would rather warn than fail.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/warnings.h"

namespace mrc::data {

struct DatasetOptions {
  // VIA: region attribute with the class: "auto" (data/class_attribute.h), a name, or empty/"none" (single class)
  std::string class_attribute;
  std::string single_class_name = "object";
  std::vector<std::string> class_names;   // VIA: fixed class list (see ViaReadOptions)
  bool option_labels_as_names = false;    // VIA: dropdown/radio options named by their labels, not their ids
  // false: any bad region/annotation throws; true: skipped, with a warning in `warnings`.
  bool skip_bad_regions = false;
};

// images_dir empty: the annotation file's folder. Throws std::runtime_error naming the file and
// entry on malformed input, an unrecognized format, or an empty dataset (no images).
Dataset load_dataset(const std::string& annotations_path, const std::string& images_dir,
                     const DatasetOptions& options = {}, Warnings* warnings = nullptr);

struct DatasetStats {
  size_t images = 0;
  size_t images_without_regions = 0;
  std::vector<int64_t> instances_per_class;  // index = class id ([0] unused)
  int min_width = 0, max_width = 0, min_height = 0, max_height = 0;  // over images with a known size
  size_t images_with_known_size = 0;
};

struct ValidateOptions {
  bool check_images = true;   // open each image header: exists, decodable, size, EXIF rotation
};

// Appends one warning per problem to `problems` (kinds: "missing image", "unreadable image",
// "size mismatch", "exif rotation", "degenerate region", "region outside image", "unknown class")
// and fills image sizes that were unknown (VIA) from the image headers.
// --class-names as the apps take it: "ids" (option ids, the default), "labels" (the options' labels) or a
// comma-separated list of class names in id order. Throws on an empty list entry.
void apply_class_names_option(DatasetOptions& options, const std::string& value);

DatasetStats validate_dataset(Dataset& dataset, Warnings& problems, const ValidateOptions& options = {});

}  // namespace mrc::data

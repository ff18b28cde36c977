// VIA (VGG Image Annotator) JSON: reading 1.x exports (entries keyed by filename+size, `regions` an
// object) and 2.x projects/exports (`_via_img_metadata`, `regions` a list, `_via_attributes` with
// dropdown/radio/checkbox options), writing 2.x projects, and detecting VIA 1.x / 2.x / COCO.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "data/dataset.h"
#include "data/warnings.h"

namespace mrc::data {

enum class AnnotationFormat { Unknown, Via1, Via2, Coco };
// "via1", "via2", "coco", "unknown" (the strings stored in Dataset::format).
const char* format_name(AnnotationFormat format);
AnnotationFormat detect_annotation_format(const nlohmann::ordered_json& root);

// Parses a JSON file keeping key order (VIA lists photos and regions as object keys); throws
// std::runtime_error naming the file (missing, empty, malformed with the
// byte position).
nlohmann::ordered_json read_json_file(const std::string& path);

struct ViaReadOptions {
  std::string images_dir;          // where the photos are; empty: the annotation file's folder
  // Region attribute holding the class (dropdown/radio/checkbox option id, or free text). Empty or
  // "none": the dataset is single-class, named single_class_name. "auto": the rule of class_attribute.h.
  std::string class_attribute;
  std::string single_class_name = "object";
  // Fixed class list (without "BG"), in id order. Empty: dropdown/radio/checkbox options in their
  // declared order, or the sorted distinct free-text values.
  std::vector<std::string> class_names;
  // Dropdown/radio options: use the option's description (its label in VIA) as the class name when it
  // has one (the option id otherwise). A region may then give either the id or the label.
  bool option_descriptions_as_names = false;
  // false: a bad region (unknown shape, < 3 points, missing/unknown class) throws; true: it is
  // skipped with a warning. Point regions are always skipped with a warning.
  bool skip_bad_regions = false;
};

// Throws std::runtime_error naming the file and the entry (image key, region index, field).
Dataset read_via(const std::string& path, const ViaReadOptions& options = {}, Warnings* warnings = nullptr);
// Same, from an already-parsed document; `source` names it in messages and Dataset::source.
Dataset parse_via(const nlohmann::ordered_json& root, const std::string& source, const ViaReadOptions& options = {},
                  Warnings* warnings = nullptr);

struct ViaWriteOptions {
  std::string class_attribute = "name";  // written as a dropdown whose option ids are the class names
  // Regions stored as COCO polygons or RLE have no VIA shape: RLE regions are traced to polygons
  // when true (outer boundary of each blob), skipped with a warning otherwise.
  bool trace_rle = true;
};

// VIA 2.x project JSON (loadable in VIA 2 with "Load project"), written atomically.
std::string via_json(const Dataset& dataset, const ViaWriteOptions& options = {}, Warnings* warnings = nullptr);
void write_via(const std::string& path, const Dataset& dataset, const ViaWriteOptions& options = {},
               Warnings* warnings = nullptr);

}  // namespace mrc::data

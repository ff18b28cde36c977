// COCO instances JSON: reading (polygons, compressed and uncompressed RLE, iscrowd, categories mapped
// to contiguous class ids), writing any Dataset as COCO instances, and writing predictions in COCO
// results format.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "data/dataset.h"
#include "data/image.h"
#include "data/warnings.h"

namespace mrc::data {

struct CocoReadOptions {
  std::string images_dir;          // empty: the annotation file's folder
  // false: a bad annotation (unknown category, polygon < 3 points, RLE size mismatch, unknown image)
  // throws; true: skipped with a warning.
  bool skip_bad_annotations = false;
};

// class_names[1..] are the categories sorted by id; coco_category_ids[k] is class k's category id.
Dataset read_coco(const std::string& path, const CocoReadOptions& options = {}, Warnings* warnings = nullptr);
Dataset parse_coco(const nlohmann::ordered_json& root, const std::string& source, const CocoReadOptions& options = {},
                   Warnings* warnings = nullptr);

// COCO instances JSON for any dataset. Polygons stay polygons (VIA shapes are converted to polygon
// vertices: pixel-centre coordinates shifted by +0.5 to COCO's corner convention, ellipses sampled),
// RLE regions become compressed RLE. Image sizes must be known (width/height > 0) or readable from
// the image file header; throws naming the image otherwise. Image ids: coco_id when set, else 1..N.
std::string coco_json(const Dataset& dataset);
// The ids coco_json gives: each image's (coco_id when every image has a distinct one, else 1..N in order)
// and each class's category id ([0] = 0; the COCO file's ids when the dataset came from one, else k).
std::vector<int64_t> coco_image_ids(const Dataset& dataset);
std::vector<int64_t> coco_category_ids(const Dataset& dataset);
void write_coco(const std::string& path, const Dataset& dataset);

struct CocoPrediction {
  int64_t image_id = 0;   // COCO image id
  int class_id = 1;       // contiguous class id; mapped through Dataset::coco_category_ids when present
  Box box;                // XYXY; written as [x, y, w, h]
  float score = 0;
  Mask mask;              // full-image mask; empty: no "segmentation" written
};
// COCO results JSON (a list of {image_id, category_id, bbox, score[, segmentation]}), atomic.
// category_ids: class id -> category id (empty: identity).
std::string coco_results_json(const std::vector<CocoPrediction>& predictions,
                              const std::vector<int64_t>& category_ids = {});
void write_coco_results(const std::string& path, const std::vector<CocoPrediction>& predictions,
                        const std::vector<int64_t>& category_ids = {});

}  // namespace mrc::data

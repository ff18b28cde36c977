// An annotated dataset as read from VIA or COCO, before rasterization: per photo, its regions as
// geometric shapes (or COCO RLE) with a class. Readers (via.h, coco.h) produce it, writers consume it,
// load_sample() rasterizes one photo into a data::Sample (image.h).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/image.h"

namespace mrc::data {

enum class ShapeKind { Polygon, Polyline, Rect, Circle, Ellipse, Rle };

// One annotated region. Coordinates in pixels of the original photo, VIA convention (a point (x, y)
// names the pixel centre at column x, row y); COCO polygons are stored as read (COCO convention: the
// readers record which one in Region::coco_coordinates so rasterizers pick the matching rule).
struct Region {
  ShapeKind kind = ShapeKind::Polygon;
  std::vector<float> xs, ys;               // Polygon / Polyline vertices; Rect: x, y (top-left)
  float width = 0, height = 0;             // Rect
  float cx = 0, cy = 0, rx = 0, ry = 0;    // Circle (rx == ry) / Ellipse
  float theta = 0;                         // Ellipse rotation, radians (VIA 2.x)
  std::vector<std::vector<double>> coco_polygons; // a COCO segmentation may hold several polygons (double: pycocotools rounds 5x+0.5)
  std::vector<uint32_t> rle_counts;        // Rle: column-major run lengths (uncompressed form)
  bool coco_coordinates = false;
  int class_id = 1;                        // index into Dataset::class_names
  bool iscrowd = false;
};

struct ImageRecord {
  std::string image_id;      // file name as written in the annotation file
  std::string path;          // resolved path (images dir + file name)
  int width = 0, height = 0; // 0 when the annotation file does not say (VIA); filled on decode
  int64_t coco_id = -1;      // COCO image id, when read from COCO
  std::vector<Region> regions;
};

struct Dataset {
  std::string source;                       // the annotation file it was read from
  std::string format;                       // "via1", "via2" or "coco"
  std::string class_attribute;              // VIA: the region attribute read as the class ("" = single class)
  std::string class_rule;                   // VIA: why that attribute (data/class_attribute.h)
  std::vector<std::string> class_names;     // [0] = "BG"; classes are 1..N
  std::vector<int64_t> coco_category_ids;   // parallel to class_names when read from COCO ([0] = 0)
  std::vector<ImageRecord> images;

  int num_classes() const { return int(class_names.size()) - 1; }
};

}  // namespace mrc::data

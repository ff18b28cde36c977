// load_dataset(): format detection + the matching reader; validate_dataset(): the problem list and
// statistics behind mrc-dataset stats. See load_dataset.h.
#include "data/load_dataset.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "data/coco.h"
#include "data/image_io.h"
#include "data/rasterize.h"
#include "data/via.h"

namespace mrc::data {

Dataset load_dataset(const std::string& annotations_path, const std::string& images_dir,
                     const DatasetOptions& options, Warnings* warnings) {
  auto root = read_json_file(annotations_path);
  Dataset ds;
  switch (detect_annotation_format(root)) {
    case AnnotationFormat::Via1:
    case AnnotationFormat::Via2: {
      ViaReadOptions vo;
      vo.images_dir = images_dir;
      vo.class_attribute = options.class_attribute;
      vo.single_class_name = options.single_class_name;
      vo.class_names = options.class_names;
      vo.option_descriptions_as_names = options.option_labels_as_names;
      vo.skip_bad_regions = options.skip_bad_regions;
      ds = parse_via(root, annotations_path, vo, warnings);
      break;
    }
    case AnnotationFormat::Coco: {
      CocoReadOptions co;
      co.images_dir = images_dir;
      co.skip_bad_annotations = options.skip_bad_regions;
      ds = parse_coco(root, annotations_path, co, warnings);
      break;
    }
    default:
      if ((root.is_object() || root.is_array()) && root.empty())
        throw std::runtime_error(annotations_path + ": empty dataset (no images)");
      throw std::runtime_error(annotations_path +
                               ": unrecognized annotation format (expected a VIA 1.x/2.x export or project, or COCO "
                               "instances JSON with 'images' and 'annotations')");
  }
  if (ds.images.empty()) throw std::runtime_error(annotations_path + ": empty dataset (no images)");
  return ds;
}

void apply_class_names_option(DatasetOptions& options, const std::string& value) {
  options.option_labels_as_names = value == "labels";
  options.class_names.clear();
  if (value.empty() || value == "ids" || value == "labels") return;
  size_t start = 0;
  while (true) {
    const size_t comma = value.find(',', start);
    const std::string name = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (name.empty())
      throw std::runtime_error("--class-names '" + value + "': expected ids, labels or names separated by commas");
    options.class_names.push_back(name);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
}

namespace {

double shoelace(const std::vector<float>& xs, const std::vector<float>& ys) {
  double a = 0;
  for (size_t i = 0, n = xs.size(); i < n; ++i) {
    size_t j = (i + 1) % n;
    a += double(xs[i]) * ys[j] - double(xs[j]) * ys[i];
  }
  return std::fabs(a) / 2;
}

}  // namespace

DatasetStats validate_dataset(Dataset& ds, Warnings& problems, const ValidateOptions& options) {
  DatasetStats st;
  st.images = ds.images.size();
  st.instances_per_class.assign(ds.class_names.size(), 0);
  bool first_size = true;
  for (auto& rec : ds.images) {
    const std::string where = ds.source + ": image '" + rec.image_id + "'";
    if (rec.regions.empty()) ++st.images_without_regions;
    if (options.check_images) {
      try {
        ImageInfo info = read_image_info(rec.path);
        const int w = info.oriented_width(), h = info.oriented_height();
        if (info.orientation != 1)
          problems.add("exif rotation", where + ": " + rec.path + " carries EXIF orientation " +
                                            std::to_string(info.orientation) +
                                            " (shown rotated/flipped; VIA draws on the stored pixels, so masks may "
                                            "not line up: check it, or decode with EXIF ignored)");
        if (rec.width > 0 && rec.height > 0 && (rec.width != w || rec.height != h)) {
          problems.add("size mismatch", where + ": annotated as " + std::to_string(rec.width) + "x" +
                                            std::to_string(rec.height) + " but " + rec.path + " is " +
                                            std::to_string(w) + "x" + std::to_string(h));
        } else if (rec.width <= 0 || rec.height <= 0) {
          rec.width = w;
          rec.height = h;
        }
      } catch (const std::exception& e) {
        std::string msg = e.what();
        problems.add(msg.find("not found") != std::string::npos ? "missing image" : "unreadable image",
                     where + ": " + msg);
      }
    }
    if (rec.width > 0 && rec.height > 0) {
      if (first_size) {
        st.min_width = st.max_width = rec.width;
        st.min_height = st.max_height = rec.height;
        first_size = false;
      }
      st.min_width = std::min(st.min_width, rec.width);
      st.max_width = std::max(st.max_width, rec.width);
      st.min_height = std::min(st.min_height, rec.height);
      st.max_height = std::max(st.max_height, rec.height);
      ++st.images_with_known_size;
    }
    for (size_t k = 0; k < rec.regions.size(); ++k) {
      const Region& r = rec.regions[k];
      const std::string rw = where + " region " + std::to_string(k);
      if (r.class_id < 1 || r.class_id >= int(ds.class_names.size())) {
        problems.add("unknown class", rw + ": class id " + std::to_string(r.class_id) + " outside 1.." +
                                          std::to_string(ds.num_classes()));
      } else {
        ++st.instances_per_class[size_t(r.class_id)];
      }
      if (r.kind == ShapeKind::Rle) continue;
      const bool via_poly = (r.kind == ShapeKind::Polygon || r.kind == ShapeKind::Polyline) && r.coco_polygons.empty() &&
                            !r.coco_coordinates;
      if (via_poly && (r.xs.size() < 3 || shoelace(r.xs, r.ys) == 0)) {
        problems.add("degenerate region", rw + ": polygon with " + std::to_string(r.xs.size()) +
                                              " points and zero area");
        continue;
      }
      const std::string far = far_outside_problem(r, rec.width, rec.height);
      if (!far.empty()) {
        problems.add("region far outside", rw + ": " + far);
        continue;
      }
      double x0, y0, x1, y1;
      region_extent(r, x0, y0, x1, y1);
      if (rec.width > 0 && rec.height > 0 && std::isfinite(x0) &&
          (x1 < -0.5 || y1 < -0.5 || x0 > rec.width - 0.5 || y0 > rec.height - 0.5))
        problems.add("region outside image", rw + ": lies outside the " + std::to_string(rec.width) + "x" +
                                                 std::to_string(rec.height) + " image (x " + std::to_string(x0) +
                                                 ".." + std::to_string(x1) + ", y " + std::to_string(y0) + ".." +
                                                 std::to_string(y1) + ")");
    }
  }
  return st;
}

}  // namespace mrc::data

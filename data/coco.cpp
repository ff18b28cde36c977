// COCO instances reading/writing and COCO results writing (see coco.h).
#include "data/coco.h"

#include <algorithm>
#include <climits>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <numbers>
#include <stdexcept>

#include "data/image_io.h"
#include "data/rasterize.h"
#include "data/rle.h"
#include "data/via.h"
#include "tensor/atomic_file.h"

namespace mrc::data {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw std::runtime_error(where + ": " + what);
}

const ojson& field(const ojson& obj, const char* name, const std::string& where) {
  auto it = obj.find(name);
  if (it == obj.end()) fail(where, std::string("missing field '") + name + "'");
  return *it;
}

int64_t integer(const ojson& obj, const char* name, const std::string& where) {
  const ojson& v = field(obj, name, where);
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX))
    fail(where, std::string("field '") + name + "' is out of range, got " + v.dump());
  if (v.is_number_integer()) return v.get<int64_t>();
  // a whole float within int64's range (2^63 itself is not: the conversion would be undefined)
  if (v.is_number_float() && v.get<double>() == std::floor(v.get<double>()) && std::fabs(v.get<double>()) < 0x1p63)
    return int64_t(v.get<double>());
  fail(where, std::string("field '") + name + "' should be an integer, got " + v.dump());
}

// An image or RLE dimension: an integer in [0, INT_MAX] (masks index pixels with int).
int dimension(int64_t v, const std::string& what, const std::string& where) {
  if (v < 0 || v > INT_MAX)
    fail(where, what + " " + std::to_string(v) + " is out of range (expected 0.." + std::to_string(INT_MAX) + ")");
  return int(v);
}

// Segmentation -> region geometry (polygons, or RLE checked against the image size).
void parse_segmentation(const ojson& seg, const ImageRecord& img, Region& reg, const std::string& where) {
  if (seg.is_array()) {
    if (seg.empty()) fail(where, "empty 'segmentation' (no polygon)");
    reg.kind = ShapeKind::Polygon;
    reg.coco_coordinates = true;
    for (size_t p = 0; p < seg.size(); ++p) {
      const ojson& poly = seg[p];
      if (!poly.is_array()) fail(where, "segmentation polygon " + std::to_string(p) + " should be a list of numbers");
      if (poly.size() % 2 != 0)
        fail(where, "segmentation polygon " + std::to_string(p) + " has an odd number of coordinates (" +
                        std::to_string(poly.size()) + ")");
      if (poly.size() < 6)
        fail(where, "segmentation polygon " + std::to_string(p) + " has " + std::to_string(poly.size() / 2) +
                        " points (at least 3 needed)");
      std::vector<double> xy;  // read as double: pycocotools rounds 5*x+0.5, float would shift x.1, x.3...
      for (const auto& v : poly) {
        if (!v.is_number() || !std::isfinite(v.get<float>()))
          fail(where, "segmentation polygon " + std::to_string(p) + " holds a non-number " + v.dump());
        xy.push_back(v.get<double>());
      }
      reg.coco_polygons.emplace_back(xy.begin(), xy.end());
    }
    return;
  }
  if (!seg.is_object()) fail(where, "'segmentation' should be a list of polygons or an RLE object");
  const ojson& size = field(seg, "size", where);
  if (!size.is_array() || size.size() != 2 || !size[0].is_number_integer() || !size[1].is_number_integer())
    fail(where, "RLE 'size' should be [height, width]");
  const int64_t h = dimension(size[0].get<int64_t>(), "RLE height", where);
  const int64_t w = dimension(size[1].get<int64_t>(), "RLE width", where);
  if (img.width > 0 && img.height > 0 && (h != img.height || w != img.width))
    fail(where, "RLE size [" + std::to_string(h) + ", " + std::to_string(w) + "] does not match the image (" +
                    std::to_string(img.height) + ", " + std::to_string(img.width) + ")");
  const ojson& counts = field(seg, "counts", where);
  reg.kind = ShapeKind::Rle;
  reg.coco_coordinates = true;
  if (counts.is_string()) {
    reg.rle_counts = rle_from_string(counts.get<std::string>(), where);
  } else if (counts.is_array()) {
    for (const auto& c : counts) {
      if (!c.is_number_integer() || c.get<int64_t>() < 0 || c.get<int64_t>() > int64_t(UINT32_MAX))
        fail(where, "RLE 'counts' holds " + c.dump() + " (expected non-negative integers)");
      reg.rle_counts.push_back(uint32_t(c.get<int64_t>()));
    }
  } else {
    fail(where, "RLE 'counts' should be a string (compressed) or a list of integers");
  }
  int64_t sum = 0;
  for (uint32_t c : reg.rle_counts) sum += c;
  if (sum != h * w)
    fail(where, "RLE runs cover " + std::to_string(sum) + " pixels, expected " + std::to_string(h * w) + " (" +
                    std::to_string(h) + "x" + std::to_string(w) + ")");
}

}  // namespace

Dataset parse_coco(const ojson& root, const std::string& source, const CocoReadOptions& options, Warnings* warnings) {
  if (!root.is_object()) fail(source, "COCO file should hold a JSON object");
  const ojson& images = field(root, "images", source);
  const ojson& annotations = field(root, "annotations", source);
  if (!images.is_array()) fail(source, "'images' should be a list");
  if (!annotations.is_array()) fail(source, "'annotations' should be a list");
  auto cats_it = root.find("categories");
  if (cats_it == root.end() || !cats_it->is_array()) fail(source, "missing or malformed 'categories' list");

  Dataset ds;
  ds.source = source;
  ds.format = "coco";
  // Categories sorted by id become classes 1..N (the torchvision/detectron2 convention).
  std::vector<std::pair<int64_t, std::string>> cats;
  for (size_t i = 0; i < cats_it->size(); ++i) {
    const ojson& c = (*cats_it)[i];
    const std::string where = source + ": categories[" + std::to_string(i) + "]";
    if (!c.is_object()) fail(where, "should be an object with 'id' and 'name'");
    const ojson& name = field(c, "name", where);
    if (!name.is_string()) fail(where, "'name' should be a string");
    cats.emplace_back(integer(c, "id", where), name.get<std::string>());
  }
  std::sort(cats.begin(), cats.end());
  ds.class_names = {"BG"};
  ds.coco_category_ids = {0};
  std::map<int64_t, int> cat_to_class;
  for (const auto& [id, name] : cats) {
    if (!cat_to_class.emplace(id, int(ds.class_names.size())).second)
      fail(source, "category id " + std::to_string(id) + " appears twice");
    ds.class_names.push_back(name);
    ds.coco_category_ids.push_back(id);
  }

  const fs::path dir = options.images_dir.empty() ? fs::path(source).parent_path() : fs::path(options.images_dir);
  std::map<int64_t, size_t> image_index;
  for (size_t i = 0; i < images.size(); ++i) {
    const ojson& im = images[i];
    const std::string where = source + ": images[" + std::to_string(i) + "]";
    if (!im.is_object()) fail(where, "should be an object");
    ImageRecord rec;
    rec.coco_id = integer(im, "id", where);
    const ojson& fn = field(im, "file_name", where);
    if (!fn.is_string() || fn.get_ref<const std::string&>().empty()) fail(where, "'file_name' should be a non-empty string");
    rec.image_id = fn.get<std::string>();
    rec.path = (dir / rec.image_id).string();
    if (im.contains("width")) rec.width = dimension(integer(im, "width", where), "'width'", where);
    if (im.contains("height")) rec.height = dimension(integer(im, "height", where), "'height'", where);
    if (!image_index.emplace(rec.coco_id, ds.images.size()).second)
      fail(where, "image id " + std::to_string(rec.coco_id) + " appears twice");
    ds.images.push_back(std::move(rec));
  }

  for (size_t i = 0; i < annotations.size(); ++i) {
    const ojson& a = annotations[i];
    std::string where = source + ": annotations[" + std::to_string(i) + "]";
    try {
      if (!a.is_object()) fail(where, "should be an object");
      if (a.contains("id") && a["id"].is_number_integer()) where += " (id " + std::to_string(a["id"].get<int64_t>()) + ")";
      const int64_t image_id = integer(a, "image_id", where);
      auto img = image_index.find(image_id);
      if (img == image_index.end()) fail(where, "image_id " + std::to_string(image_id) + " is not in 'images'");
      ImageRecord& rec = ds.images[img->second];
      const int64_t cat = integer(a, "category_id", where);
      auto cls = cat_to_class.find(cat);
      if (cls == cat_to_class.end()) fail(where, "unknown category_id " + std::to_string(cat));
      Region reg;
      reg.class_id = cls->second;
      if (a.contains("iscrowd")) {
        const ojson& c = a["iscrowd"];
        reg.iscrowd = c.is_boolean() ? c.get<bool>() : c.is_number() ? c.get<double>() != 0 : false;
      }
      parse_segmentation(field(a, "segmentation", where), rec, reg, where + " of image '" + rec.image_id + "'");
      rec.regions.push_back(std::move(reg));
    } catch (const std::runtime_error& e) {
      if (!options.skip_bad_annotations) throw;
      if (warnings) {
        std::string msg = e.what();
        std::string kind = msg.find("unknown category") != std::string::npos ? "unknown class"
                           : msg.find("points (at least 3") != std::string::npos ? "degenerate region"
                           : msg.find("is not in 'images'") != std::string::npos ? "unknown image"
                                                                                 : "bad annotation";
        warnings->add(kind, msg + "; skipped");
      }
    }
  }
  return ds;
}

Dataset read_coco(const std::string& path, const CocoReadOptions& options, Warnings* warnings) {
  return parse_coco(read_json_file(path), path, options, warnings);
}

namespace {

double tidy(float v) {  // floats as their shortest decimal (12.3f -> 12.3, not 12.300000190734863)
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  *end = 0;
  return std::strtod(buf, nullptr);
}
[[maybe_unused]] double tidy(double v) { return v; }  // for when polygons are stored as double
double round6(double v) { return std::round(v * 1e6) / 1e6; }

ojson rle_json(const Mask& m) {
  Rle r = mask_to_rle(m);
  return {{"size", {m.height, m.width}}, {"counts", rle_to_string(r.counts)}};
}

// VIA pixel-centre coordinates -> COCO corner coordinates: +0.5 (the convention of the usual
// VIA-to-COCO converters, so the COCO polygon covers the same pixels under pycocotools).
ojson coco_polygons_for(const Region& r) {
  ojson segs = ojson::array();
  auto add = [&](const std::vector<double>& xs, const std::vector<double>& ys) {
    ojson p = ojson::array();
    for (size_t i = 0; i < xs.size(); ++i) {
      p.push_back(round6(xs[i] + 0.5));
      p.push_back(round6(ys[i] + 0.5));
    }
    segs.push_back(std::move(p));
  };
  switch (r.kind) {
    case ShapeKind::Polygon:
    case ShapeKind::Polyline:
      if (r.coco_coordinates || !r.coco_polygons.empty()) {
        for (const auto& poly : r.coco_polygons) {
          ojson p = ojson::array();
          for (auto v : poly) p.push_back(tidy(v));
          segs.push_back(std::move(p));
        }
      } else {
        std::vector<double> xs, ys;
        for (auto v : r.xs) xs.push_back(tidy(v));
        for (auto v : r.ys) ys.push_back(tidy(v));
        add(xs, ys);
      }
      break;
    case ShapeKind::Rect: {
      double x = r.xs.empty() ? 0 : tidy(r.xs[0]), y = r.ys.empty() ? 0 : tidy(r.ys[0]);
      const double w = tidy(r.width), h = tidy(r.height);
      if (r.coco_coordinates) { x -= 0.5; y -= 0.5; }
      add({x, x + w, x + w, x}, {y, y, y + h, y + h});
      break;
    }
    case ShapeKind::Circle:
    case ShapeKind::Ellipse: {
      // 64 points on the outline, VIA's canvas rotation.
      const double rx = r.rx, ry = r.kind == ShapeKind::Circle ? r.rx : r.ry;
      const double th = r.kind == ShapeKind::Ellipse ? r.theta : 0.0;
      std::vector<double> xs, ys;
      for (int k = 0; k < 64; ++k) {
        const double t = 2 * std::numbers::pi * k / 64;
        const double ex = rx * std::cos(t), ey = ry * std::sin(t);
        xs.push_back(r.cx + ex * std::cos(th) - ey * std::sin(th));
        ys.push_back(r.cy + ex * std::sin(th) + ey * std::cos(th));
      }
      add(xs, ys);
      break;
    }
    case ShapeKind::Rle: break;
  }
  return segs;
}

}  // namespace

std::vector<int64_t> coco_image_ids(const Dataset& ds) {
  // Keep the original image ids when every image has a distinct one.
  bool keep_ids = !ds.images.empty();
  std::map<int64_t, int> seen;
  for (const auto& rec : ds.images)
    if (rec.coco_id < 0 || seen[rec.coco_id]++) keep_ids = false;
  std::vector<int64_t> ids;
  for (size_t i = 0; i < ds.images.size(); ++i) ids.push_back(keep_ids ? ds.images[i].coco_id : int64_t(i) + 1);
  return ids;
}

std::vector<int64_t> coco_category_ids(const Dataset& ds) {
  const bool keep_cats = ds.coco_category_ids.size() == ds.class_names.size();
  std::vector<int64_t> ids = {0};
  for (size_t k = 1; k < ds.class_names.size(); ++k) ids.push_back(keep_cats ? ds.coco_category_ids[k] : int64_t(k));
  return ids;
}

std::string coco_json(const Dataset& ds) {
  ojson root = ojson::object();
  root["info"] = {{"description", "written by maskrcnn.cpp from " + ds.source}};
  const std::vector<int64_t> image_ids = coco_image_ids(ds), category_ids = coco_category_ids(ds);
  ojson images = ojson::array(), anns = ojson::array(), cats = ojson::array();
  int64_t ann_id = 1;
  for (size_t i = 0; i < ds.images.size(); ++i) {
    const ImageRecord& rec = ds.images[i];
    const int64_t id = image_ids[i];
    int w = rec.width, h = rec.height;
    if (w <= 0 || h <= 0) {
      try {
        ImageInfo info = read_image_info(rec.path);
        w = info.oriented_width();
        h = info.oriented_height();
      } catch (const std::exception& e) {
        throw std::runtime_error(ds.source + ": image '" + rec.image_id +
                                 "' has no size in the annotations and its file cannot be read: " + e.what());
      }
    }
    images.push_back({{"id", id}, {"file_name", rec.image_id}, {"width", w}, {"height", h}});
    for (size_t k = 0; k < rec.regions.size(); ++k) {
      const Region& r = rec.regions[k];
      const std::string where = ds.source + ": image '" + rec.image_id + "' region " + std::to_string(k);
      Mask m;
      try {
        m = rasterize_region(r, w, h);
      } catch (const std::exception& e) {
        throw std::runtime_error(where + ": " + e.what());
      }
      if (r.class_id < 1 || r.class_id >= int(ds.class_names.size()))
        throw std::runtime_error(where + ": class id " + std::to_string(r.class_id) + " has no category");
      const Box b = mask_to_box(m);
      ojson a = ojson::object();
      a["id"] = ann_id++;
      a["image_id"] = id;
      a["category_id"] = category_ids[size_t(r.class_id)];
      a["segmentation"] = r.kind == ShapeKind::Rle ? rle_json(m) : coco_polygons_for(r);
      a["area"] = m.area();
      a["bbox"] = {b.x1, b.y1, b.width(), b.height()};
      a["iscrowd"] = r.iscrowd ? 1 : 0;
      anns.push_back(std::move(a));
    }
  }
  for (size_t k = 1; k < ds.class_names.size(); ++k)
    cats.push_back({{"id", category_ids[k]}, {"name", ds.class_names[k]},
                    {"supercategory", ""}});
  root["images"] = std::move(images);
  root["annotations"] = std::move(anns);
  root["categories"] = std::move(cats);
  return root.dump(1);
}

void write_coco(const std::string& path, const Dataset& dataset) { write_file_atomic(path, coco_json(dataset)); }

std::string coco_results_json(const std::vector<CocoPrediction>& preds, const std::vector<int64_t>& category_ids) {
  ojson out = ojson::array();
  for (size_t i = 0; i < preds.size(); ++i) {
    const CocoPrediction& p = preds[i];
    int64_t cat = p.class_id;
    if (!category_ids.empty()) {
      if (p.class_id < 0 || size_t(p.class_id) >= category_ids.size())
        throw std::invalid_argument("coco results: prediction " + std::to_string(i) + " has class id " +
                                    std::to_string(p.class_id) + " outside the category table (" +
                                    std::to_string(category_ids.size()) + " entries)");
      cat = category_ids[size_t(p.class_id)];
    }
    ojson r = ojson::object();
    r["image_id"] = p.image_id;
    r["category_id"] = cat;
    r["bbox"] = {tidy(p.box.x1), tidy(p.box.y1), tidy(p.box.x2 - p.box.x1), tidy(p.box.y2 - p.box.y1)};
    r["score"] = tidy(p.score);
    if (!p.mask.pixels.empty()) r["segmentation"] = rle_json(p.mask);
    out.push_back(std::move(r));
  }
  return out.dump();
}

void write_coco_results(const std::string& path, const std::vector<CocoPrediction>& predictions,
                        const std::vector<int64_t>& category_ids) {
  write_file_atomic(path, coco_results_json(predictions, category_ids));
}

}  // namespace mrc::data

// Writing VIA 2.x projects (see via.h), including tracing RLE masks back into polygons so that a
// dataset of augmented masks can be reopened in VIA.
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/rasterize.h"
#include "data/rle.h"
#include "data/via.h"
#include "tensor/atomic_file.h"

namespace mrc::data {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

// Shortest decimal that reads back as the same float: 12.3f is written 12.3, not 12.300000190734863.
double tidy(float v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  *end = 0;
  return std::strtod(buf, nullptr);
}
[[maybe_unused]] double tidy(double v) { return v; }  // for when COCO polygons are stored as double
ojson num(float v) {
  if (v == std::floor(v) && std::fabs(v) < 1e9) return int64_t(v);
  return tidy(v);
}
ojson num(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e9) return int64_t(v);
  return v;
}

constexpr int kDx[8] = {1, 1, 0, -1, -1, -1, 0, 1};  // E, SE, S, SW, W, NW, N, NE: clockwise on screen
constexpr int kDy[8] = {0, 1, 1, 1, 0, -1, -1, -1};

// Outer outline of the 8-connected blob whose top-left pixel is (sx, sy), through pixel centres
// (Moore-neighbour tracing, clockwise), with collinear points dropped. Holes are not traced: the
// polygon covers them.
std::vector<std::array<int, 2>> trace_blob(const Mask& m, int sx, int sy) {
  auto fg = [&](int x, int y) { return x >= 0 && y >= 0 && x < m.width && y < m.height && m.at(x, y); };
  std::vector<std::array<int, 2>> pts{{sx, sy}};
  int cx = sx, cy = sy, back = 4;  // came from the west: nothing is left of the top-left pixel
  int first_dir = -1;
  const size_t limit = 4 * size_t(m.width) * m.height + 8;
  for (size_t step = 0; step < limit; ++step) {
    int d = -1;
    for (int k = 1; k <= 8; ++k) {
      int c = (back + k) % 8;
      if (fg(cx + kDx[c], cy + kDy[c])) { d = c; break; }
    }
    if (d < 0) break;  // isolated pixel
    if (cx == sx && cy == sy && d == first_dir) break;
    if (first_dir < 0) first_dir = d;
    cx += kDx[d];
    cy += kDy[d];
    back = d % 2 == 0 ? (d + 6) % 8 : (d + 5) % 8;  // the background cell examined last, seen from here
    pts.push_back({cx, cy});
  }
  if (pts.size() > 1 && pts.back() == pts.front()) pts.pop_back();
  // Drop points in the middle of straight runs.
  std::vector<std::array<int, 2>> out;
  const size_t n = pts.size();
  for (size_t i = 0; i < n; ++i) {
    const auto& p = pts[(i + n - 1) % n];
    const auto& c = pts[i];
    const auto& q = pts[(i + 1) % n];
    long cross = long(c[0] - p[0]) * (q[1] - c[1]) - long(c[1] - p[1]) * (q[0] - c[0]);
    long dot = long(c[0] - p[0]) * (q[0] - c[0]) + long(c[1] - p[1]) * (q[1] - c[1]);
    if (n >= 3 && cross == 0 && dot > 0) continue;
    out.push_back(c);
  }
  return out;
}

// A blob too thin for a polygon through its centres (one pixel, a straight line): the convex hull
// of its points grown by a quarter pixel, which holds exactly those pixel centres.
std::vector<std::array<double, 2>> thin_outline(const std::vector<std::array<int, 2>>& pts) {
  std::vector<std::array<double, 2>> cand;
  for (const auto& p : pts)
    for (double ox : {-0.25, 0.25})
      for (double oy : {-0.25, 0.25}) cand.push_back({p[0] + ox, p[1] + oy});
  std::sort(cand.begin(), cand.end());
  cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
  auto cross = [](const auto& o, const auto& a, const auto& b) {
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  };
  std::vector<std::array<double, 2>> hull(2 * cand.size());
  size_t k = 0;
  for (size_t i = 0; i < cand.size(); ++i) {
    while (k >= 2 && cross(hull[k - 2], hull[k - 1], cand[i]) <= 0) --k;
    hull[k++] = cand[i];
  }
  for (size_t i = cand.size() - 1, t = k + 1; i-- > 0;) {
    while (k >= t && cross(hull[k - 2], hull[k - 1], cand[i]) <= 0) --k;
    hull[k++] = cand[i];
  }
  hull.resize(k - 1);
  return hull;
}

std::vector<std::vector<std::array<double, 2>>> mask_outlines(const Mask& m) {
  std::vector<std::vector<std::array<double, 2>>> out;
  std::vector<uint8_t> seen(m.pixels.size(), 0);
  std::vector<int> stack;
  for (int y = 0; y < m.height; ++y)
    for (int x = 0; x < m.width; ++x) {
      size_t i = size_t(y) * m.width + x;
      if (!m.pixels[i] || seen[i]) continue;
      stack.assign(1, int(i));
      seen[i] = 1;
      while (!stack.empty()) {  // mark the 8-connected blob
        int p = stack.back();
        stack.pop_back();
        int px = p % m.width, py = p / m.width;
        for (int d = 0; d < 8; ++d) {
          int nx = px + kDx[d], ny = py + kDy[d];
          if (nx < 0 || ny < 0 || nx >= m.width || ny >= m.height) continue;
          size_t j = size_t(ny) * m.width + nx;
          if (m.pixels[j] && !seen[j]) {
            seen[j] = 1;
            stack.push_back(int(j));
          }
        }
      }
      auto pts = trace_blob(m, x, y);
      if (pts.size() >= 3) {
        std::vector<std::array<double, 2>> poly;
        for (const auto& p : pts) poly.push_back({double(p[0]), double(p[1])});
        out.push_back(std::move(poly));
      } else {
        out.push_back(thin_outline(pts));
      }
    }
  return out;
}

ojson polygon_shape(const std::vector<double>& xs, const std::vector<double>& ys, const char* name = "polygon") {
  ojson s = ojson::object();
  s["name"] = name;
  ojson ax = ojson::array(), ay = ojson::array();
  for (double v : xs) ax.push_back(num(v));
  for (double v : ys) ay.push_back(num(v));
  s["all_points_x"] = std::move(ax);
  s["all_points_y"] = std::move(ay);
  return s;
}

// VIA shapes for one region (several for multi-polygon COCO segmentations and multi-blob masks).
std::vector<ojson> region_shapes(const Region& r, const ImageRecord& rec, const ViaWriteOptions& opt,
                                 const std::string& where, Warnings* warnings) {
  std::vector<ojson> out;
  switch (r.kind) {
    case ShapeKind::Polygon:
    case ShapeKind::Polyline:
      if (r.coco_coordinates || !r.coco_polygons.empty()) {
        // COCO's corner convention -> VIA's pixel centres.
        for (const auto& p : r.coco_polygons) {
          std::vector<double> xs, ys;
          for (size_t i = 0; i + 1 < p.size(); i += 2) {
            xs.push_back(tidy(p[i]) - 0.5);
            ys.push_back(tidy(p[i + 1]) - 0.5);
          }
          out.push_back(polygon_shape(xs, ys));
        }
      } else {
        std::vector<double> xs, ys;
        for (float v : r.xs) xs.push_back(tidy(v));
        for (float v : r.ys) ys.push_back(tidy(v));
        out.push_back(polygon_shape(xs, ys, r.kind == ShapeKind::Polygon ? "polygon" : "polyline"));
      }
      break;
    case ShapeKind::Rect: {
      ojson s = ojson::object();
      s["name"] = "rect";
      float x = r.xs.empty() ? 0.f : r.xs[0], y = r.ys.empty() ? 0.f : r.ys[0];
      if (r.coco_coordinates) { x -= 0.5f; y -= 0.5f; }
      s["x"] = num(x);
      s["y"] = num(y);
      s["width"] = num(r.width);
      s["height"] = num(r.height);
      out.push_back(std::move(s));
      break;
    }
    case ShapeKind::Circle: {
      ojson s = ojson::object();
      s["name"] = "circle";
      s["cx"] = num(r.cx);
      s["cy"] = num(r.cy);
      s["r"] = num(r.rx);
      out.push_back(std::move(s));
      break;
    }
    case ShapeKind::Ellipse: {
      ojson s = ojson::object();
      s["name"] = "ellipse";
      s["cx"] = num(r.cx);
      s["cy"] = num(r.cy);
      s["rx"] = num(r.rx);
      s["ry"] = num(r.ry);
      s["theta"] = num(r.theta);
      out.push_back(std::move(s));
      break;
    }
    case ShapeKind::Rle: {
      if (!opt.trace_rle) {
        if (warnings) warnings->add("rle region", where + ": mask (RLE) region has no VIA shape; skipped");
        break;
      }
      if (rec.width <= 0 || rec.height <= 0)
        throw std::runtime_error(where + ": mask (RLE) region on an image of unknown size");
      Mask m = rle_to_mask(Rle{rec.width, rec.height, r.rle_counts});
      for (const auto& poly : mask_outlines(m)) {
        std::vector<double> xs, ys;
        for (const auto& p : poly) {
          xs.push_back(p[0]);
          ys.push_back(p[1]);
        }
        out.push_back(polygon_shape(xs, ys));
      }
      break;
    }
  }
  if (out.size() > 1 && warnings)
    warnings->add("split region", where + ": written as " + std::to_string(out.size()) +
                                      " VIA polygons (VIA has no multi-part regions)");
  return out;
}

}  // namespace

std::string via_json(const Dataset& ds, const ViaWriteOptions& opt, Warnings* warnings) {
  ojson root = ojson::object();
  root["_via_settings"] = {
      {"ui", {{"annotation_editor_height", 25}, {"annotation_editor_fontsize", 0.8}, {"leftsidebar_width", 18},
              {"image_grid", {{"img_height", 80}, {"rshape_fill", "none"}, {"rshape_fill_opacity", 0.3},
                              {"rshape_stroke", "yellow"}, {"rshape_stroke_width", 2}, {"show_region_shape", true},
                              {"show_image_policy", "all"}}},
              {"image", {{"region_label", opt.class_attribute}, {"region_color", opt.class_attribute},
                         {"region_label_font", "10px Sans"}, {"on_image_annotation_editor_placement", "NEAR_REGION"}}}}},
      {"core", {{"buffer_size", 18}, {"filepath", ojson::object()}, {"default_filepath", ""}}},
      {"project", {{"name", fs::path(ds.source).stem().string()}}}};
  ojson meta = ojson::object();
  ojson id_list = ojson::array();
  for (const auto& rec : ds.images) {
    std::error_code ec;
    auto bytes = fs::file_size(rec.path, ec);
    const int64_t size = ec ? -1 : int64_t(bytes);
    const std::string key = rec.image_id + std::to_string(size);
    ojson regions = ojson::array();
    for (size_t k = 0; k < rec.regions.size(); ++k) {
      const Region& r = rec.regions[k];
      const std::string where = ds.source + ": image '" + rec.image_id + "' region " + std::to_string(k);
      ojson attrs = ojson::object();
      if (r.class_id >= 1 && r.class_id < int(ds.class_names.size()))
        attrs[opt.class_attribute] = ds.class_names[r.class_id];
      else
        throw std::runtime_error(where + ": class id " + std::to_string(r.class_id) + " has no name");
      for (auto& shape : region_shapes(r, rec, opt, where, warnings))
        regions.push_back({{"shape_attributes", std::move(shape)}, {"region_attributes", attrs}});
    }
    meta[key] = {{"filename", rec.image_id}, {"size", size}, {"regions", std::move(regions)},
                 {"file_attributes", ojson::object()}};
    id_list.push_back(key);
  }
  root["_via_img_metadata"] = std::move(meta);
  ojson options = ojson::object();
  for (size_t k = 1; k < ds.class_names.size(); ++k) options[ds.class_names[k]] = "";
  root["_via_attributes"] = {
      {"region", {{opt.class_attribute, {{"type", "dropdown"}, {"description", "class"}, {"options", options},
                                         {"default_options", ojson::object()}}}}},
      {"file", ojson::object()}};
  root["_via_data_format_version"] = "2.0.10";
  root["_via_image_id_list"] = std::move(id_list);
  return root.dump(1);
}

void write_via(const std::string& path, const Dataset& dataset, const ViaWriteOptions& options, Warnings* warnings) {
  write_file_atomic(path, via_json(dataset, options, warnings));
}

}  // namespace mrc::data

// VIA 1.x / 2.x reading, format detection and JSON file parsing (see via.h). Writing lives in
// via_write.cpp.
#include "data/via.h"

#include "data/class_attribute.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

namespace mrc::data {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

const char* format_name(AnnotationFormat format) {
  switch (format) {
    case AnnotationFormat::Via1: return "via1";
    case AnnotationFormat::Via2: return "via2";
    case AnnotationFormat::Coco: return "coco";
    default: return "unknown";
  }
}

ojson read_json_file(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw std::runtime_error(path + ": file not found");
  if (fs::is_directory(path, ec)) throw std::runtime_error(path + ": is a directory, expected a JSON file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) throw std::runtime_error(path + ": file is empty");
  try {
    return ojson::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // Line and column are what an editor shows; nlohmann gives the byte offset.
    size_t line = 1, col = 1;
    for (size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
      if (text[i] == '\n') { ++line; col = 1; } else { ++col; }
    }
    std::string what = e.what();
    auto pos = what.find("syntax error");
    throw std::runtime_error(path + ": malformed JSON at line " + std::to_string(line) + ", column " +
                             std::to_string(col) + ": " + (pos == std::string::npos ? what : what.substr(pos)));
  }
}

AnnotationFormat detect_annotation_format(const ojson& root) {
  if (!root.is_object()) return AnnotationFormat::Unknown;
  if (root.contains("images") && root.contains("annotations")) return AnnotationFormat::Coco;
  if (root.contains("_via_img_metadata")) return AnnotationFormat::Via2;
  // An export: photo entries with "filename" and "regions" (an object in 1.x, a list in 2.x).
  AnnotationFormat found = AnnotationFormat::Unknown;
  for (const auto& [key, entry] : root.items()) {
    if (!entry.is_object() || !entry.contains("filename")) return AnnotationFormat::Unknown;
    auto r = entry.find("regions");
    if (r == entry.end()) return AnnotationFormat::Unknown;
    if (r->is_array()) return AnnotationFormat::Via2;
    if (r->is_object() && !r->empty()) return AnnotationFormat::Via1;
    if (r->is_object()) found = AnnotationFormat::Via1;
  }
  return found;
}

namespace {

struct ViaContext {
  const std::string& source;
  const ViaReadOptions& opt;  // class_attribute already resolved (never "auto")
  Warnings* warnings;
};

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw std::runtime_error(where + ": " + what);
}

double number(const ojson& obj, const char* field, const std::string& where) {
  auto it = obj.find(field);
  if (it == obj.end()) fail(where, std::string("missing field '") + field + "'");
  if (it->is_number() && std::isfinite(it->get<float>())) return it->get<double>();
  if (it->is_string()) {  // a few VIA 1.0 exports quote their numbers
    const std::string& s = it->get_ref<const std::string&>();
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == 0 && std::isfinite(float(v))) return v;
  }
  fail(where, std::string("field '") + field + "' should be a number, got " + it->dump());
}

std::vector<float> number_list(const ojson& obj, const char* field, const std::string& where) {
  auto it = obj.find(field);
  if (it == obj.end()) fail(where, std::string("missing field '") + field + "'");
  if (!it->is_array()) fail(where, std::string("field '") + field + "' should be a list of numbers");
  std::vector<float> out;
  out.reserve(it->size());
  for (const auto& v : *it) {
    if (!v.is_number() || !std::isfinite(v.get<float>()))
      fail(where, std::string("field '") + field + "' holds a non-number " + v.dump());
    out.push_back(v.get<float>());
  }
  return out;
}

// Shape -> Region geometry. Returns false for shapes that are skipped on purpose (points).
bool parse_shape(const ojson& shape, Region& reg, const std::string& where, const ViaContext& ctx) {
  if (!shape.is_object()) fail(where, "'shape_attributes' should be an object");
  auto nit = shape.find("name");
  if (nit == shape.end() || !nit->is_string()) fail(where, "'shape_attributes' has no shape 'name'");
  const std::string name = nit->get<std::string>();
  if (name == "polygon" || name == "polyline") {
    reg.kind = name == "polygon" ? ShapeKind::Polygon : ShapeKind::Polyline;
    reg.xs = number_list(shape, "all_points_x", where);
    reg.ys = number_list(shape, "all_points_y", where);
    if (reg.xs.size() != reg.ys.size())
      fail(where, name + " has " + std::to_string(reg.xs.size()) + " x and " + std::to_string(reg.ys.size()) +
                      " y coordinates");
    // VIA 1.x closes polygons by repeating the first point; it adds nothing to the shape.
    if (reg.xs.size() > 1 && reg.xs.front() == reg.xs.back() && reg.ys.front() == reg.ys.back()) {
      reg.xs.pop_back();
      reg.ys.pop_back();
    }
    if (reg.xs.size() < 3)
      fail(where, name + " with " + std::to_string(reg.xs.size()) + " distinct points (at least 3 needed)");
  } else if (name == "rect") {
    reg.kind = ShapeKind::Rect;
    reg.xs = {float(number(shape, "x", where))};
    reg.ys = {float(number(shape, "y", where))};
    reg.width = float(number(shape, "width", where));
    reg.height = float(number(shape, "height", where));
    if (!(reg.width > 0) || !(reg.height > 0))
      fail(where, "rect of size " + std::to_string(reg.width) + "x" + std::to_string(reg.height) +
                      " (width and height must be > 0)");
  } else if (name == "circle") {
    reg.kind = ShapeKind::Circle;
    reg.cx = float(number(shape, "cx", where));
    reg.cy = float(number(shape, "cy", where));
    reg.rx = reg.ry = float(number(shape, "r", where));
    if (!(reg.rx > 0)) fail(where, "circle radius " + std::to_string(reg.rx) + " (must be > 0)");
  } else if (name == "ellipse") {
    reg.kind = ShapeKind::Ellipse;
    reg.cx = float(number(shape, "cx", where));
    reg.cy = float(number(shape, "cy", where));
    reg.rx = float(number(shape, "rx", where));
    reg.ry = float(number(shape, "ry", where));
    reg.theta = shape.contains("theta") ? float(number(shape, "theta", where)) : 0.f;
    if (!(reg.rx > 0) || !(reg.ry > 0))
      fail(where, "ellipse radii " + std::to_string(reg.rx) + ", " + std::to_string(reg.ry) + " (must be > 0)");
  } else if (name == "point") {
    if (ctx.warnings) ctx.warnings->add("point region", where + ": point region ignored (a point has no mask)");
    return false;
  } else {
    fail(where, "unknown shape '" + name + "' (expected polygon, polyline, rect, circle, ellipse or point)");
  }
  return true;
}

// The class attribute's declared options (id -> name) from _via_attributes, when it has any.
struct ClassAttribute {
  bool declared = false;
  std::vector<std::string> option_ids;
  std::map<std::string, std::string> id_to_name;
};

ClassAttribute declared_attribute(const ojson& root, const ViaContext& ctx) {
  ClassAttribute ca;
  auto a = root.find("_via_attributes");
  if (a == root.end() || !a->is_object()) return ca;
  auto r = a->find("region");
  if (r == a->end() || !r->is_object()) return ca;
  auto attr = r->find(ctx.opt.class_attribute);
  if (attr == r->end() || !attr->is_object()) return ca;
  auto opts = attr->find("options");
  if (opts == attr->end() || !opts->is_object() || opts->empty()) return ca;  // free text
  ca.declared = true;
  for (const auto& [id, desc] : opts->items()) {
    ca.option_ids.push_back(id);
    std::string d = desc.is_string() ? desc.get<std::string>() : std::string();
    ca.id_to_name[id] = ctx.opt.option_descriptions_as_names && !d.empty() ? d : id;
  }
  return ca;
}

// The class value of one region: a string (dropdown/radio/text) or a checkbox object {id: true}.
// Returns "" (and sets *problem) when absent or ambiguous.
std::string class_value(const ojson& region, const ViaContext& ctx, std::string* problem) {
  const std::string& attr = ctx.opt.class_attribute;
  auto ra = region.find("region_attributes");
  if (ra == region.end() || !ra->is_object()) {
    *problem = "has no 'region_attributes'";
    return "";
  }
  auto v = ra->find(attr);
  if (v == ra->end()) {
    *problem = "has no '" + attr + "' attribute";
    return "";
  }
  if (v->is_string()) {
    std::string s = v->get<std::string>();
    if (s.empty()) *problem = "has an empty '" + attr + "' attribute";
    return s;
  }
  if (v->is_number_integer()) return std::to_string(v->get<int64_t>());
  if (v->is_object()) {
    std::vector<std::string> on;
    for (const auto& [k, b] : v->items())
      if (b.is_boolean() ? b.get<bool>() : !b.is_null()) on.push_back(k);
    if (on.size() == 1) return on[0];
    *problem = "has " + std::to_string(on.size()) + " options checked in '" + attr + "' (expected exactly one)";
    return "";
  }
  *problem = "has a '" + attr + "' attribute of unexpected type: " + v->dump();
  return "";
}

// Regions of one entry, in file order ("0", "1", ... keys of a 1.x object sorted numerically).
std::vector<std::pair<std::string, const ojson*>> entry_regions(const ojson& entry, const std::string& where) {
  std::vector<std::pair<std::string, const ojson*>> out;
  auto r = entry.find("regions");
  if (r == entry.end()) fail(where, "missing field 'regions'");
  if (r->is_array()) {
    for (size_t i = 0; i < r->size(); ++i) out.emplace_back(std::to_string(i), &(*r)[i]);
  } else if (r->is_object()) {
    for (const auto& [k, v] : r->items()) out.emplace_back(k, &v);
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      char* ea = nullptr;
      char* eb = nullptr;
      long ka = std::strtol(a.first.c_str(), &ea, 10), kb = std::strtol(b.first.c_str(), &eb, 10);
      bool na = !a.first.empty() && *ea == 0, nb = !b.first.empty() && *eb == 0;
      if (na && nb) return ka < kb;
      return na && !nb;
    });
  } else {
    fail(where, "'regions' should be a list (VIA 2.x) or an object (VIA 1.x)");
  }
  return out;
}

}  // namespace

Dataset parse_via(const ojson& root, const std::string& source, const ViaReadOptions& requested, Warnings* warnings) {
  const ClassAttributeChoice choice = choose_class_attribute(root, source, requested.class_attribute);
  ViaReadOptions options = requested;
  options.class_attribute = choice.attribute;
  ViaContext ctx{source, options, warnings};
  const AnnotationFormat format = detect_annotation_format(root);
  if (format != AnnotationFormat::Via1 && format != AnnotationFormat::Via2) {
    if (root.is_object() && root.empty()) fail(source, "no images (empty VIA file)");
    fail(source, std::string("not a VIA 1.x/2.x file (detected ") + format_name(format) +
                     "; expected entries with 'filename' and 'regions', or '_via_img_metadata')");
  }
  const ojson& meta = root.contains("_via_img_metadata") ? root["_via_img_metadata"] : root;
  if (!meta.is_object()) fail(source, "'_via_img_metadata' should be an object");

  Dataset ds;
  ds.source = source;
  ds.format = format_name(format);
  ds.class_attribute = choice.attribute;
  ds.class_rule = choice.rule;
  const fs::path images_dir = options.images_dir.empty() ? fs::path(source).parent_path() : fs::path(options.images_dir);

  // Classes: a single class, a fixed list, the declared options, or the distinct free-text values.
  const bool single = options.class_attribute.empty();
  ClassAttribute declared = single ? ClassAttribute{} : declared_attribute(root, ctx);
  ds.class_names = {"BG"};
  if (single) {
    ds.class_names.push_back(options.single_class_name);
  } else if (!options.class_names.empty()) {
    ds.class_names.insert(ds.class_names.end(), options.class_names.begin(), options.class_names.end());
  } else if (declared.declared) {
    for (const auto& id : declared.option_ids) ds.class_names.push_back(declared.id_to_name[id]);
  } else {
    std::set<std::string> values;
    for (const auto& [key, entry] : meta.items()) {
      if (!entry.is_object() || !entry.contains("regions")) continue;
      for (const auto& [rk, reg] : entry_regions(entry, source)) {
        std::string problem;
        std::string v = class_value(*reg, ctx, &problem);
        if (problem.empty()) values.insert(v);
      }
    }
    ds.class_names.insert(ds.class_names.end(), values.begin(), values.end());
  }
  std::map<std::string, int> class_id;
  for (size_t k = 1; k < ds.class_names.size(); ++k) class_id.emplace(ds.class_names[k], int(k));

  for (const auto& [key, entry] : meta.items()) {
    const std::string where_entry = source + ": entry '" + key + "'";
    if (!entry.is_object()) fail(where_entry, "should be an object with 'filename' and 'regions'");
    auto fn = entry.find("filename");
    if (fn == entry.end() || !fn->is_string() || fn->get_ref<const std::string&>().empty())
      fail(where_entry, "missing or empty 'filename'");
    ImageRecord rec;
    rec.image_id = fn->get<std::string>();
    rec.path = (images_dir / rec.image_id).string();
    for (const auto& [rk, reg] : entry_regions(entry, where_entry)) {
      const std::string where = source + ": image '" + rec.image_id + "' region " + rk;
      Region region;
      try {
        if (!reg->is_object()) fail(where, "should be an object with 'shape_attributes'");
        auto sa = reg->find("shape_attributes");
        if (sa == reg->end()) fail(where, "missing 'shape_attributes'");
        if (!parse_shape(*sa, region, where, ctx)) continue;
        if (!single) {
          std::string problem;
          std::string v = class_value(*reg, ctx, &problem);
          if (!problem.empty()) fail(where, problem);
          std::string name = v;
          if (declared.declared) {
            auto it = declared.id_to_name.find(v);
            if (it == declared.id_to_name.end() && options.option_descriptions_as_names)  // the label itself
              it = std::find_if(declared.id_to_name.begin(), declared.id_to_name.end(),
                                [&](const auto& e) { return e.second == v; });
            if (it == declared.id_to_name.end()) {
              std::string ids;
              for (const auto& id : declared.option_ids) ids += (ids.empty() ? "'" : ", '") + id + "'";
              fail(where, "class '" + v + "' is not an option of attribute '" + options.class_attribute +
                              "' (declared options: " + ids + ")");
            }
            name = it->second;
          }
          auto c = class_id.find(name);
          if (c == class_id.end()) {
            std::string known;
            for (size_t k = 1; k < ds.class_names.size(); ++k) known += (k > 1 ? ", " : "") + ds.class_names[k];
            fail(where, "unknown class '" + name + "' (known: " + known + ")");
          }
          region.class_id = c->second;
        }
      } catch (const std::runtime_error& e) {
        if (!options.skip_bad_regions) throw;
        if (warnings) {
          std::string msg = e.what();
          std::string kind = msg.find("unknown class") != std::string::npos || msg.find("not an option") != std::string::npos
                                 ? "unknown class"
                             : msg.find("unknown shape") != std::string::npos ? "unknown shape"
                             : msg.find("points (at least 3") != std::string::npos ? "degenerate region"
                                                                                 : "bad region";
          warnings->add(kind, msg + "; skipped");
        }
        continue;
      }
      rec.regions.push_back(std::move(region));
    }
    ds.images.push_back(std::move(rec));
  }
  return ds;
}

Dataset read_via(const std::string& path, const ViaReadOptions& options, Warnings* warnings) {
  return parse_via(read_json_file(path), path, options, warnings);
}

}  // namespace mrc::data

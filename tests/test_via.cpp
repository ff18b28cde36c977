// VIA reading (1.x exports, 2.x exports and projects), class attributes (single class, free text,
// dropdown ids and descriptions, checkboxes), format detection, writing 2.x and reading it back
// (RLE masks traced to polygons that rasterize to the same pixels), and bad input by name.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/rasterize.h"
#include "data/rle.h"
#include "data/via.h"
#include "test_util.h"

using namespace mrc::data;
namespace fs = std::filesystem;

namespace {

using mrc::test::TempDir;

// VIA 1.x export: entries keyed by filename+size, regions an object (keys deliberately out of order).
const char* kVia1 = R"({
 "a.jpg123": {"fileref": "", "size": 123, "filename": "a.jpg", "base64_img_data": "", "file_attributes": {},
   "regions": {
     "1": {"shape_attributes": {"name": "rect", "x": 2, "y": 3, "width": 4, "height": 5}, "region_attributes": {"kind": "dog"}},
     "10": {"shape_attributes": {"name": "ellipse", "cx": 20, "cy": 21, "rx": 6, "ry": 3}, "region_attributes": {"kind": "cat"}},
     "0": {"shape_attributes": {"name": "polygon", "all_points_x": [1, 9, 5, 1], "all_points_y": [1, 1, 8, 1]}, "region_attributes": {"kind": "cat"}},
     "2": {"shape_attributes": {"name": "point", "cx": 4, "cy": 4}, "region_attributes": {"kind": "cat"}},
     "3": {"shape_attributes": {"name": "circle", "cx": 30, "cy": 10, "r": 2.5}, "region_attributes": {"kind": "dog"}}
   }},
 "b.png77": {"fileref": "", "size": 77, "filename": "b.png", "base64_img_data": "", "file_attributes": {}, "regions": {}}
})";

// VIA 2.x project: _via_img_metadata, regions a list, a dropdown and a checkbox attribute.
const char* kVia2 = R"({
 "_via_settings": {},
 "_via_img_metadata": {
  "x.jpg500": {"filename": "x.jpg", "size": 500, "file_attributes": {}, "regions": [
    {"shape_attributes": {"name": "polyline", "all_points_x": [0, 10, 10], "all_points_y": [0, 0, 10]},
     "region_attributes": {"species": "2", "tags": {"b": true}}},
    {"shape_attributes": {"name": "ellipse", "cx": 5.5, "cy": 6.25, "rx": 4, "ry": 2, "theta": 0.5},
     "region_attributes": {"species": "1", "tags": {"a": true, "b": false}}}
  ]}
 },
 "_via_attributes": {
  "region": {
   "species": {"type": "dropdown", "description": "", "options": {"1": "Cat", "2": "Dog", "3": "Bird"}, "default_options": {}},
   "tags": {"type": "checkbox", "description": "", "options": {"a": "", "b": ""}, "default_options": {}}
  },
  "file": {}
 }
})";

}  // namespace

TEST_CASE("VIA 1.x: shapes, region order, single class, point regions warned") {
  TempDir dir;
  const std::string path = dir.write("via1.json", kVia1);
  CHECK(detect_annotation_format(read_json_file(path)) == AnnotationFormat::Via1);
  Warnings w;
  Dataset ds = read_via(path, {}, &w);
  CHECK(ds.format == "via1");
  CHECK(ds.source == path);
  REQUIRE(ds.images.size() == 2);
  CHECK(ds.class_names == std::vector<std::string>{"BG", "object"});
  CHECK(ds.images[0].image_id == "a.jpg");  // file order kept
  CHECK(ds.images[0].path == (dir.path / "a.jpg").string());
  CHECK(ds.images[1].regions.empty());
  const auto& r = ds.images[0].regions;
  REQUIRE(r.size() == 4);  // the point is dropped
  CHECK(w.count("point region") == 1);
  CHECK(r[0].kind == ShapeKind::Polygon);      // "0"
  CHECK(r[0].xs == std::vector<float>{1, 9, 5});  // the repeated closing point is dropped
  CHECK(r[1].kind == ShapeKind::Rect);         // "1"
  CHECK(r[1].xs[0] == 2);
  CHECK(r[1].height == 5);
  CHECK(r[2].kind == ShapeKind::Circle);       // "3" before "10": numeric order
  CHECK(r[2].rx == 2.5f);
  CHECK(r[3].kind == ShapeKind::Ellipse);
  CHECK(r[3].theta == 0);
  for (const auto& reg : r) CHECK(reg.class_id == 1);

  ViaReadOptions o;
  o.images_dir = "/photos";
  o.single_class_name = "balloon";
  Dataset ds2 = read_via(path, o);
  CHECK(ds2.images[0].path == "/photos/a.jpg");
  CHECK(ds2.class_names[1] == "balloon");
}

TEST_CASE("VIA 1.x: free-text class attribute gives sorted classes; a fixed list maps by name") {
  TempDir dir;
  const std::string path = dir.write("via1.json", kVia1);
  ViaReadOptions o;
  o.class_attribute = "kind";
  Dataset ds = read_via(path, o);
  CHECK(ds.class_names == std::vector<std::string>{"BG", "cat", "dog"});
  const auto& r = ds.images[0].regions;
  CHECK(r[0].class_id == 1);
  CHECK(r[1].class_id == 2);
  CHECK(r[3].class_id == 1);
  o.class_names = {"dog", "cat"};
  Dataset fixed = read_via(path, o);
  CHECK(fixed.images[0].regions[0].class_id == 2);
  o.class_names = {"dog"};
  CHECK_THROWS_WITH_AS(read_via(path, o), doctest::Contains("unknown class 'cat'"), std::runtime_error);
  o.skip_bad_regions = true;
  Warnings w;
  Dataset skipped = read_via(path, o, &w);
  CHECK(skipped.images[0].regions.size() == 2);
  CHECK(w.count("unknown class") == 2);
}

TEST_CASE("VIA 2.x project: dropdown option ids, descriptions, checkbox classes, rotation") {
  TempDir dir;
  const std::string path = dir.write("via2.json", kVia2);
  CHECK(detect_annotation_format(read_json_file(path)) == AnnotationFormat::Via2);
  ViaReadOptions o;
  o.class_attribute = "species";
  Dataset ds = read_via(path, o);
  CHECK(ds.format == "via2");
  CHECK(ds.class_names == std::vector<std::string>{"BG", "1", "2", "3"});
  REQUIRE(ds.images.size() == 1);
  const auto& r = ds.images[0].regions;
  REQUIRE(r.size() == 2);
  CHECK(r[0].kind == ShapeKind::Polyline);
  CHECK(r[0].class_id == 2);
  CHECK(r[1].class_id == 1);
  CHECK(r[1].theta == doctest::Approx(0.5));
  CHECK(r[1].cy == 6.25f);

  o.option_descriptions_as_names = true;
  Dataset named = read_via(path, o);
  CHECK(named.class_names == std::vector<std::string>{"BG", "Cat", "Dog", "Bird"});
  CHECK(named.images[0].regions[0].class_id == 2);

  o.class_attribute = "tags";
  o.option_descriptions_as_names = false;
  Dataset tags = read_via(path, o);
  CHECK(tags.class_names == std::vector<std::string>{"BG", "a", "b"});
  CHECK(tags.images[0].regions[0].class_id == 2);
  CHECK(tags.images[0].regions[1].class_id == 1);
}

TEST_CASE("VIA 2.x export (no project wrapper) and format detection") {
  using ojson = nlohmann::ordered_json;
  auto root = ojson::parse(R"({"p.jpg1": {"filename": "p.jpg", "size": 1, "regions": [], "file_attributes": {}}})");
  CHECK(detect_annotation_format(root) == AnnotationFormat::Via2);
  CHECK(parse_via(root, "mem.json").images.size() == 1);
  CHECK(detect_annotation_format(ojson::parse(R"({"images": [], "annotations": [], "categories": []})")) ==
        AnnotationFormat::Coco);
  CHECK(detect_annotation_format(ojson::parse(R"({"project": {}, "file": {}})")) == AnnotationFormat::Unknown);
  CHECK(detect_annotation_format(ojson::parse("[1, 2]")) == AnnotationFormat::Unknown);
  CHECK(std::string(format_name(AnnotationFormat::Via1)) == "via1");
}

TEST_CASE("write_via then read_via gives back the shapes and classes") {
  TempDir dir;
  ViaReadOptions o;
  o.class_attribute = "kind";
  Dataset ds = read_via(dir.write("via1.json", kVia1), o);
  const std::string out = (dir.path / "out.json").string();
  write_via(out, ds);
  CHECK(detect_annotation_format(read_json_file(out)) == AnnotationFormat::Via2);
  ViaReadOptions back_opt;
  back_opt.class_attribute = "name";
  Dataset back = read_via(out, back_opt);
  CHECK(back.class_names == ds.class_names);
  REQUIRE(back.images.size() == ds.images.size());
  for (size_t i = 0; i < ds.images.size(); ++i) {
    REQUIRE(back.images[i].regions.size() == ds.images[i].regions.size());
    for (size_t k = 0; k < ds.images[i].regions.size(); ++k) {
      const Region& a = ds.images[i].regions[k];
      const Region& b = back.images[i].regions[k];
      CHECK(a.kind == b.kind);
      CHECK(a.class_id == b.class_id);
      CHECK(mask_iou(rasterize_region(a, 40, 30), rasterize_region(b, 40, 30)) == 1.0);
    }
  }
}

TEST_CASE("RLE masks written to VIA are traced into polygons covering the same pixels") {
  // Blobs: an L shape, a diagonal 8-connected staircase, a single pixel, a straight line, a ring
  // (its hole is filled: VIA polygons have no holes).
  Mask m(24, 16);
  for (int y = 1; y < 8; ++y) m.at(2, y) = m.at(3, y) = 1;
  for (int x = 2; x < 9; ++x) m.at(x, 7) = m.at(x, 6) = 1;
  for (int k = 0; k < 5; ++k) m.at(12 + k, 1 + k) = 1;
  m.at(20, 2) = 1;
  for (int x = 12; x < 22; ++x) m.at(x, 13) = 1;
  Mask ring(24, 16);
  for (int y = 9; y < 12; ++y)
    for (int x = 2; x < 7; ++x) ring.at(x, y) = (y == 10 && x == 4) ? 0 : 1;
  Mask filled = ring;
  filled.at(4, 10) = 1;

  Dataset ds;
  ds.source = "mem";
  ds.class_names = {"BG", "blob", "ring"};
  ImageRecord rec;
  rec.image_id = "m.png";
  rec.path = "/nonexistent/m.png";
  rec.width = 24;
  rec.height = 16;
  Region r;
  r.kind = ShapeKind::Rle;
  r.rle_counts = mask_to_rle(m).counts;
  rec.regions.push_back(r);
  r.rle_counts = mask_to_rle(ring).counts;
  r.class_id = 2;
  rec.regions.push_back(r);
  ds.images.push_back(rec);

  Warnings w;
  auto root = nlohmann::ordered_json::parse(via_json(ds, {}, &w));
  CHECK(w.count("split region") == 1);  // the first mask has 4 blobs
  ViaReadOptions o;
  o.class_attribute = "name";
  Dataset back_named = parse_via(root, "mem", o);
  const auto& regs = back_named.images[0].regions;
  REQUIRE(regs.size() == 5);
  Mask blobs(24, 16), rings(24, 16);
  for (const auto& reg : regs) {
    Mask one = rasterize_region(reg, 24, 16);
    Mask& dst = reg.class_id == 1 ? blobs : rings;
    for (size_t i = 0; i < one.pixels.size(); ++i) dst.pixels[i] |= one.pixels[i];
  }
  CHECK(blobs.pixels == m.pixels);
  CHECK(rings.pixels == filled.pixels);

  ViaWriteOptions no_trace;
  no_trace.trace_rle = false;
  Warnings w2;
  auto plain = nlohmann::ordered_json::parse(via_json(ds, no_trace, &w2));
  CHECK(w2.count("rle region") == 2);
  CHECK(parse_via(plain, "mem").images[0].regions.empty());
}

TEST_CASE("bad VIA input: every message names the file and the entry") {
  TempDir dir;
  auto msg = [&](const std::string& text, const ViaReadOptions& o = {}) -> std::string {
    const std::string p = dir.write("bad.json", text);
    return mrc::test::error_of<std::runtime_error>([&] { read_via(p, o); });
  };
  const std::string file = (dir.path / "bad.json").string();
  std::string m = msg(R"({"a.jpg1": {"filename": "a.jpg", "regions": {)");  // truncated
  MRC_CHECK_CONTAINS(m, file);
  MRC_CHECK_CONTAINS(m, "malformed JSON at line 1");
  m = msg(R"({"a.jpg1": {"filename": "a.jpg", "regions": [{"shape_attributes": {"name": "star"}}]}})");
  MRC_CHECK_CONTAINS(m, file);
  MRC_CHECK_CONTAINS(m, "image 'a.jpg' region 0");
  MRC_CHECK_CONTAINS(m, "unknown shape 'star'");
  m = msg(R"({"a.jpg1": {"filename": "a.jpg", "regions": [{"shape_attributes": {"name": "polygon",
            "all_points_x": [1, 2], "all_points_y": [1, 2]}}]}})");
  MRC_CHECK_CONTAINS(m, "region 0");
  MRC_CHECK_CONTAINS(m, "at least 3");
  m = msg(R"({"a.jpg1": {"filename": "a.jpg", "regions": [{"shape_attributes": {"name": "polygon",
            "all_points_x": [1, 2, 3], "all_points_y": [1, 2]}}]}})");
  MRC_CHECK_CONTAINS(m, "3 x and 2 y");
  m = msg(R"({"a.jpg1": {"filename": "a.jpg", "regions": [{"shape_attributes": {"name": "circle", "cx": 1, "cy": "x", "r": 2}}]}})");
  MRC_CHECK_CONTAINS(m, "'cy' should be a number");
  m = msg(R"({"a.jpg1": {"filename": "a.jpg", "regions": [{"shape_attributes": {"name": "rect", "x": 1, "y": 1}}]}})");
  MRC_CHECK_CONTAINS(m, "missing field 'width'");
  m = msg(R"({"a.jpg1": {"filename": "", "regions": []}})");
  MRC_CHECK_CONTAINS(m, "entry 'a.jpg1'");
  m = msg("{}");
  MRC_CHECK_CONTAINS(m, "no images");
  m = msg("");
  MRC_CHECK_CONTAINS(m, "empty");
  m = msg(R"({"images": [], "annotations": []})");
  MRC_CHECK_CONTAINS(m, "not a VIA");
  ViaReadOptions o;
  o.class_attribute = "species";
  m = msg(R"({"_via_img_metadata": {"x.jpg1": {"filename": "x.jpg", "regions": [
            {"shape_attributes": {"name": "rect", "x": 1, "y": 1, "width": 2, "height": 2}, "region_attributes": {"species": "7"}}]}},
          "_via_attributes": {"region": {"species": {"type": "dropdown", "options": {"1": "cat"}}}}})", o);
  MRC_CHECK_CONTAINS(m, "image 'x.jpg' region 0");
  MRC_CHECK_CONTAINS(m, "not an option");
  m = msg(R"({"x.jpg1": {"filename": "x.jpg", "regions": [
            {"shape_attributes": {"name": "rect", "x": 1, "y": 1, "width": 2, "height": 2}, "region_attributes": {}}]}})", o);
  MRC_CHECK_CONTAINS(m, "has no 'species' attribute");
  CHECK_THROWS_WITH_AS(read_via((dir.path / "missing.json").string()), doctest::Contains("file not found"),
                       std::runtime_error);
}

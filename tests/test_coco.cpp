// COCO instances reading (polygons, compressed and uncompressed RLE, iscrowd, category ids mapped to
// contiguous classes), writing a dataset back (polygons kept, masks as compressed RLE, VIA points
// shifted by +0.5), COCO results, and bad input named by file and annotation.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/coco.h"
#include "data/rasterize.h"
#include "data/rle.h"
#include "data/via.h"
#include "test_util.h"

using namespace mrc::data;
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

using mrc::test::TempDir;

// 6x4 image (h=4, w=6); RLE counts written by hand, column-major: column 0 empty, columns 1-2 rows
// 1..2 set -> runs 5 zeros, 2 ones, 2 zeros, 2 ones, 13 zeros.
const char* kCoco = R"({
 "images": [{"id": 7, "file_name": "a.jpg", "width": 6, "height": 4},
            {"id": 3, "file_name": "b.jpg", "width": 20, "height": 10}],
 "categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}],
 "annotations": [
  {"id": 1, "image_id": 7, "category_id": 18, "iscrowd": 1, "segmentation": {"size": [4, 6], "counts": [5, 2, 2, 2, 13]}},
  {"id": 2, "image_id": 3, "category_id": 1, "iscrowd": 0, "segmentation": [[1.5, 1.5, 9.5, 1.5, 9.5, 6.5, 1.5, 6.5]]},
  {"id": 3, "image_id": 3, "category_id": 18, "segmentation": {"size": [10, 20], "counts": "COMPRESSED"}},
  {"id": 4, "image_id": 3, "category_id": 1, "segmentation": [[12, 1, 15, 1, 15, 3], [16, 5, 19, 5, 19, 9]]}
 ]
})";

std::string coco_text() {
  Mask m(20, 10);
  for (int y = 2; y < 5; ++y)
    for (int x = 11; x < 14; ++x) m.at(x, y) = 1;
  std::string s = kCoco;
  s.replace(s.find("COMPRESSED"), 10, rle_to_string(mask_to_rle(m).counts));
  return s;
}

}  // namespace

TEST_CASE("COCO: categories sorted by id, polygons, compressed and uncompressed RLE, iscrowd") {
  TempDir dir;
  const std::string path = dir.write("coco.json", coco_text());
  CHECK(detect_annotation_format(read_json_file(path)) == AnnotationFormat::Coco);
  Dataset ds = read_coco(path);
  CHECK(ds.format == "coco");
  CHECK(ds.class_names == std::vector<std::string>{"BG", "person", "dog"});
  CHECK(ds.coco_category_ids == std::vector<int64_t>{0, 1, 18});
  REQUIRE(ds.images.size() == 2);
  CHECK(ds.images[0].coco_id == 7);
  CHECK(ds.images[0].width == 6);
  CHECK(ds.images[0].path == (dir.path / "a.jpg").string());
  const Region& crowd = ds.images[0].regions.at(0);
  CHECK(crowd.kind == ShapeKind::Rle);
  CHECK(crowd.iscrowd);
  CHECK(crowd.class_id == 2);
  Mask cm = rasterize_region(crowd, 6, 4);
  CHECK(cm.area() == 4);
  CHECK(cm.at(1, 1) == 1);
  CHECK(cm.at(2, 2) == 1);
  CHECK(cm.at(0, 1) == 0);
  CHECK(cm.at(1, 3) == 0);

  const auto& regs = ds.images[1].regions;
  REQUIRE(regs.size() == 3);
  CHECK(regs[0].coco_coordinates);
  CHECK_FALSE(regs[0].iscrowd);
  // Corner convention: the square [1.5, 9.5] x [1.5, 6.5] covers pixels 2..9 x 2..6 under pycocotools.
  Box b = mask_to_box(rasterize_region(regs[0], 20, 10));
  CHECK(b.x1 == 2);
  CHECK(b.x2 == 10);
  CHECK(b.y1 == 2);
  CHECK(b.y2 == 7);
  CHECK(rasterize_region(regs[1], 20, 10).area() == 9);
  CHECK(regs[2].coco_polygons.size() == 2);  // one instance, two parts
}

TEST_CASE("COCO written and read back gives the same masks, ids and categories") {
  TempDir dir;
  Dataset ds = read_coco(dir.write("coco.json", coco_text()));
  const std::string out = (dir.path / "out.json").string();
  write_coco(out, ds);
  auto root = read_json_file(out);
  CHECK(root["categories"][1]["id"] == 18);
  CHECK(root["images"][0]["id"] == 7);
  CHECK(root["annotations"][0]["segmentation"]["counts"].is_string());  // masks-only -> compressed RLE
  CHECK(root["annotations"][1]["segmentation"].is_array());             // polygons stay polygons
  CHECK(root["annotations"][1]["bbox"] == ojson::parse("[2, 2, 8, 5]"));
  CHECK(root["annotations"][1]["area"] == 40);
  Dataset back = read_coco(out);
  CHECK(back.class_names == ds.class_names);
  for (size_t i = 0; i < ds.images.size(); ++i) {
    const auto& rec = ds.images[i];
    REQUIRE(back.images[i].regions.size() == rec.regions.size());
    for (size_t k = 0; k < rec.regions.size(); ++k) {
      CHECK(back.images[i].regions[k].class_id == rec.regions[k].class_id);
      CHECK(back.images[i].regions[k].iscrowd == rec.regions[k].iscrowd);
      CHECK(rasterize_region(back.images[i].regions[k], rec.width, rec.height).pixels ==
            rasterize_region(rec.regions[k], rec.width, rec.height).pixels);
    }
  }
}

TEST_CASE("VIA shapes exported to COCO: points shifted to the corner convention") {
  Dataset ds;
  ds.source = "mem";
  ds.class_names = {"BG", "object"};
  ImageRecord rec;
  rec.image_id = "p.jpg";
  rec.path = "/nonexistent/p.jpg";
  rec.width = 30;
  rec.height = 20;
  Region poly;
  poly.xs = {2, 12.25f, 7};
  poly.ys = {3, 3, 15};
  rec.regions.push_back(poly);
  Region ell;
  ell.kind = ShapeKind::Ellipse;
  ell.cx = 20;
  ell.cy = 10;
  ell.rx = 5;
  ell.ry = 3;
  rec.regions.push_back(ell);
  ds.images.push_back(rec);
  auto root = ojson::parse(coco_json(ds));
  CHECK(root["annotations"][0]["segmentation"] == ojson::parse("[[2.5, 3.5, 12.75, 3.5, 7.5, 15.5]]"));
  CHECK(root["annotations"][0]["category_id"] == 1);
  CHECK(root["annotations"][1]["segmentation"][0].size() == 128);  // 64 outline points
  Dataset back = parse_coco(root, "mem");
  // The ellipse comes back as a polygon covering nearly the same pixels.
  CHECK(mask_iou(rasterize_region(back.images[0].regions[1], 30, 20), rasterize_region(ell, 30, 20)) > 0.85);
  ds.images[0].width = 0;  // unknown size and no file to read it from
  CHECK_THROWS_WITH_AS(coco_json(ds), doctest::Contains("image 'p.jpg'"), std::runtime_error);
}

TEST_CASE("COCO results: bbox as xywh, category ids mapped, masks as compressed RLE") {
  TempDir dir;
  CocoPrediction p;
  p.image_id = 42;
  p.class_id = 2;
  p.box = Box{1.5f, 2, 4, 8};
  p.score = 0.75f;
  p.mask = Mask(5, 4);
  p.mask.at(1, 1) = p.mask.at(2, 1) = 1;
  CocoPrediction q = p;
  q.mask = Mask();
  const std::string path = (dir.path / "res.json").string();
  write_coco_results(path, {p, q}, {0, 1, 18});
  auto root = read_json_file(path);
  REQUIRE(root.size() == 2);
  CHECK(root[0]["image_id"] == 42);
  CHECK(root[0]["category_id"] == 18);
  CHECK(root[0]["bbox"] == ojson::parse("[1.5, 2, 2.5, 6]"));
  CHECK(root[0]["score"] == 0.75);
  CHECK(root[0]["segmentation"]["size"] == ojson::parse("[4, 5]"));
  auto counts = rle_from_string(root[0]["segmentation"]["counts"].get<std::string>());
  CHECK(counts == std::vector<uint32_t>{5, 1, 3, 1, 10});  // column-major, by hand
  CHECK_FALSE(root[1].contains("segmentation"));
  CHECK_THROWS_AS(coco_results_json({p}, {0, 1}), std::invalid_argument);
}

TEST_CASE("bad COCO input: the message names the file and the annotation") {
  TempDir dir;
  auto msg = [&](const std::string& text, bool skip = false, Warnings* w = nullptr) -> std::string {
    const std::string p = dir.write("bad.json", text);
    CocoReadOptions o;
    o.skip_bad_annotations = skip;
    return mrc::test::error_of<std::runtime_error>([&] { read_coco(p, o, w); });
  };
  const std::string file = (dir.path / "bad.json").string();
  const std::string head = R"({"images": [{"id": 1, "file_name": "a.jpg", "width": 8, "height": 8}],
                             "categories": [{"id": 1, "name": "x"}], "annotations": [)";
  std::string m = msg(head + R"({"id": 5, "image_id": 1, "category_id": 9, "segmentation": [[1,1,5,1,5,5]]}]})");
  MRC_CHECK_CONTAINS(m, file);
  MRC_CHECK_CONTAINS(m, "annotations[0] (id 5)");
  MRC_CHECK_CONTAINS(m, "unknown category_id 9");
  m = msg(head + R"({"id": 5, "image_id": 1, "category_id": 1, "segmentation": [[1,1,5,1,5,5]]},
                    {"id": 6, "image_id": 4, "category_id": 1, "segmentation": [[1,1,5,1,5,5]]}]})");
  MRC_CHECK_CONTAINS(m, "annotations[1] (id 6)");
  MRC_CHECK_CONTAINS(m, "image_id 4");
  m = msg(head + R"({"id": 5, "image_id": 1, "category_id": 1, "segmentation": [[1,1,5,1]]}]})");
  MRC_CHECK_CONTAINS(m, "image 'a.jpg'");
  MRC_CHECK_CONTAINS(m, "at least 3");
  m = msg(head + R"({"id": 5, "image_id": 1, "category_id": 1, "segmentation": {"size": [8, 9], "counts": [72]}}]})");
  MRC_CHECK_CONTAINS(m, "does not match the image");
  m = msg(head + R"({"id": 5, "image_id": 1, "category_id": 1, "segmentation": {"size": [8, 8], "counts": [60]}}]})");
  MRC_CHECK_CONTAINS(m, "expected 64");
  m = msg(head + R"({"id": 5, "image_id": 1, "category_id": 1, "segmentation": {"size": [8, 8], "counts": "ab~"}}]})");
  MRC_CHECK_CONTAINS(m, "not a compressed RLE digit");
  m = msg(head + R"({"id": 5, "image_id": 1, "category_id": 1}]})");
  MRC_CHECK_CONTAINS(m, "missing field 'segmentation'");
  m = msg(R"({"images": [{"id": 1}], "annotations": [], "categories": []})");
  MRC_CHECK_CONTAINS(m, "images[0]");
  MRC_CHECK_CONTAINS(m, "file_name");
  m = msg(R"({"images": [], "categories": []})");
  MRC_CHECK_CONTAINS(m, "missing field 'annotations'");
  m = msg(head + R"({"id": 5, "image_id": 1)");
  MRC_CHECK_CONTAINS(m, "malformed JSON");

  Warnings w;
  m = msg(head + R"({"id": 5, "image_id": 1, "category_id": 9, "segmentation": [[1,1,5,1,5,5]]},
                    {"id": 6, "image_id": 1, "category_id": 1, "segmentation": [[1,1,5,1,5,5]]}]})", true, &w);
  CHECK(m == "<no exception>");
  CHECK(w.count("unknown class") == 1);
}

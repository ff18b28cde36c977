// mrc-dataset's conversions (data/convert.h): VIA <-> COCO keeps every mask pixel (VIA -> COCO -> VIA and
// COCO -> VIA -> COCO), image sizes come from the photos' headers, file names follow the output's folder,
// and merging unites classes by name.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/coco.h"
#include "data/convert.h"
#include "data/image_io.h"
#include "data/load_dataset.h"
#include "data/rasterize.h"
#include "data/via.h"
#include "test_util.h"

using namespace mrc;
using namespace mrc::data;
using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

// Every region's mask, per image (keyed by file name), in region order.
std::map<std::string, std::vector<Mask>> masks_of(const Dataset& ds) {
  std::map<std::string, std::vector<Mask>> out;
  for (const auto& rec : ds.images) {
    int w = rec.width, h = rec.height;
    if (w <= 0) {
      const ImageInfo info = read_image_info(rec.path);
      w = info.width;
      h = info.height;
    }
    auto& v = out[fs::path(rec.image_id).filename().string()];
    for (const auto& r : rec.regions) v.push_back(rasterize_region(r, w, h));
  }
  return out;
}

std::vector<int> classes_of(const Dataset& ds) {
  std::vector<int> c;
  for (const auto& rec : ds.images)
    for (const auto& r : rec.regions) c.push_back(r.class_id);
  return c;
}

void check_same_masks(const Dataset& a, const Dataset& b) {
  const auto ma = masks_of(a), mb = masks_of(b);
  REQUIRE(ma.size() == mb.size());
  for (const auto& [file, masks] : ma) {
    CAPTURE(file);
    REQUIRE(mb.count(file) == 1);
    REQUIRE(mb.at(file).size() == masks.size());
    for (size_t k = 0; k < masks.size(); ++k) {
      CAPTURE(k);
      CHECK(masks[k].area() > 0);
      CHECK(masks[k].pixels == mb.at(file)[k].pixels);
    }
  }
  CHECK(a.class_names == b.class_names);
  CHECK(classes_of(a) == classes_of(b));
}

// Two photos and a VIA 2.x project with every shape kind (no sizes given: the headers tell).
fs::path make_via_project(const fs::path& dir) {
  write_png((dir / "a.png").string(), Image(64, 48, 3, 90));
  write_png((dir / "b.png").string(), Image(50, 70, 3, 160));
  auto region = [](const ojson& shape, const char* cls) { return ojson{{"shape_attributes", shape}, {"region_attributes", {{"kind", cls}}}}; };
  ojson a = ojson::array({region({{"name", "polygon"}, {"all_points_x", {3.2, 30.7, 21, 5}}, {"all_points_y", {4, 6.5, 30.3, 22}}}, "dog"),
                          region({{"name", "rect"}, {"x", 35.5}, {"y", 10}, {"width", 20}, {"height", 12.3}}, "cat"),
                          region({{"name", "ellipse"}, {"cx", 45}, {"cy", 35}, {"rx", 12}, {"ry", 6}, {"theta", 0.4}}, "dog")});
  ojson b = ojson::array({region({{"name", "circle"}, {"cx", 25}, {"cy", 30}, {"r", 11.5}}, "cat"),
                          region({{"name", "polygon"}, {"all_points_x", {5, 45, 40, 8}}, {"all_points_y", {50, 52, 66, 64}}}, "cat")});
  ojson root;
  root["_via_settings"] = ojson::object();
  root["_via_attributes"] = {{"region", {{"kind", {{"type", "dropdown"}, {"description", ""}, {"options", {{"cat", ""}, {"dog", ""}}}, {"default_options", ojson::object()}}}}},
                             {"file", ojson::object()}};
  root["_via_img_metadata"] = {{"a.png-1", {{"filename", "a.png"}, {"size", -1}, {"regions", a}, {"file_attributes", ojson::object()}}},
                               {"b.png-1", {{"filename", "b.png"}, {"size", -1}, {"regions", b}, {"file_attributes", ojson::object()}}}};
  const fs::path p = dir / "via.json";
  std::ofstream(p) << root.dump();
  return p;
}

DatasetOptions auto_classes() {
  DatasetOptions o;
  o.class_attribute = "auto";
  return o;
}

}  // namespace

TEST_CASE("VIA -> COCO -> VIA: identical masks, sizes from the headers, photos found from another folder") {
  test::TempDir tmp;
  const Dataset via = load_dataset(make_via_project(tmp.path).string(), "", auto_classes());
  fs::create_directories(tmp.path / "out");
  const fs::path coco_path = tmp.path / "out" / "coco.json";
  write_dataset(coco_path.string(), via, "coco");
  const Dataset coco = load_dataset(coco_path.string(), "", auto_classes());
  CHECK(coco.format == "coco");
  CHECK(coco.images[0].width == 64);   // from a.png's header
  CHECK(coco.images[1].height == 70);
  for (const auto& rec : coco.images) CHECK(fs::exists(rec.path));  // "../a.png" from out/
  check_same_masks(via, coco);

  const fs::path back_path = tmp.path / "back.json";
  write_dataset(back_path.string(), coco, "via2");
  const Dataset back = load_dataset(back_path.string(), "", auto_classes());
  CHECK(back.format == "via2");
  CHECK(back.class_attribute == "class");
  check_same_masks(via, back);
}

TEST_CASE("COCO (polygons and RLE) -> VIA -> COCO: identical masks") {
  test::TempDir tmp;
  write_png((tmp.path / "p.png").string(), Image(40, 30, 3, 10));
  const ojson root = {
      {"images", {{{"id", 7}, {"file_name", "p.png"}, {"width", 40}, {"height", 30}}}},
      {"categories", {{{"id", 3}, {"name", "bolt"}}, {{"id", 9}, {"name", "nut"}}}},
      {"annotations",
       {{{"id", 1}, {"image_id", 7}, {"category_id", 9}, {"iscrowd", 0}, {"segmentation", {{2.5, 3.1, 20.2, 4.7, 12.9, 18.3}}}},
        {{"id", 2}, {"image_id", 7}, {"category_id", 3}, {"iscrowd", 0}, {"segmentation", {{"size", {30, 40}}, {"counts", {300, 12, 18, 12, 18, 12, 828}}}}}}}};
  const fs::path in = tmp.path / "in.json";
  std::ofstream(in) << root.dump();
  const Dataset coco = load_dataset(in.string(), "", auto_classes());
  write_dataset((tmp.path / "v.json").string(), coco, "via2");
  const Dataset via = load_dataset((tmp.path / "v.json").string(), "", auto_classes());
  check_same_masks(coco, via);
  write_dataset((tmp.path / "c.json").string(), via, "coco");
  check_same_masks(coco, load_dataset((tmp.path / "c.json").string(), "", auto_classes()));
  CHECK_THROWS_WITH_AS(check_target_format("yolo"), doctest::Contains("expected coco or via2"), std::runtime_error);
}

TEST_CASE("merge: classes united by name, ids remapped, a photo listed twice is an error") {
  test::TempDir tmp;
  const Dataset via = load_dataset(make_via_project(tmp.path).string(), "", auto_classes());  // cat, dog
  Dataset only_dog = via;
  only_dog.source = "second.json";
  only_dog.class_names = {"BG", "dog"};
  only_dog.images = {via.images[0]};
  only_dog.images[0].path = (tmp.path / "c.png").string();
  only_dog.images[0].image_id = "c.png";
  only_dog.images[0].regions = {via.images[0].regions[0]};
  only_dog.images[0].regions[0].class_id = 1;
  const Dataset merged = merge_datasets({via, only_dog});
  CHECK(merged.class_names == std::vector<std::string>{"BG", "cat", "dog"});
  REQUIRE(merged.images.size() == 3);
  CHECK(merged.images[2].regions[0].class_id == 2);  // dog
  CHECK_THROWS_WITH_AS(merge_datasets({via, via}), doctest::Contains("also listed by"), std::runtime_error);
}

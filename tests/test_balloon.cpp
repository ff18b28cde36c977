// The balloon dataset (../shared/data/balloon, when present): its VIA 1.x files and their COCO twin
// (points + 0.5) must describe the same instances: the same counts (255 train, 50 val), COCO points
// = VIA points + 0.5, and masks that agree. Agreement is measured three ways:
//  - each VIA mask (skimage rule) against its COCO mask (pycocotools rule): the pixel counts must
//    equal those the reference tools give (tests/fixtures/test_balloon.py), and the pooled IoU must
//    be >= 0.99. Per instance the two reference rules themselves disagree on small balloons
//    (skimage keeps pixels whose centre lies on the outline, pycocotools does not): 59 of 305
//    instances fall below 0.99, down to 0.887, in skimage + pycocotools as much as here;
//  - each VIA region exported to COCO (the +0.5 convention) must rasterize to its twin's exact mask
//    (IoU 1 >= 0.99 per instance).
// Skips when the data is absent.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "data/coco.h"
#include "data/load_dataset.h"
#include "data/rasterize.h"
#include "data/via.h"
#include "tensor/safetensors.h"
#include "test_util.h"

using namespace mrc::data;
namespace fs = std::filesystem;

namespace {

std::string balloon_dir() {
  const std::string shared = mrc::test::shared_data_dir();
  if (shared.empty() || !fs::exists(fs::path(shared) / "balloon" / "train" / "via_region_data.json")) return "";
  return (fs::path(shared) / "balloon").string();
}

size_t count_regions(const Dataset& ds) {
  size_t n = 0;
  for (const auto& r : ds.images) n += r.regions.size();
  return n;
}

void check_split(const std::string& split, size_t expected) {
  const fs::path root = balloon_dir();
  Dataset via = read_via((root / split / "via_region_data.json").string());
  CocoReadOptions co;
  co.images_dir = (root / split).string();
  Dataset coco = read_coco((root / "coco" / (split + "_coco_mmdet.json")).string(), co);
  CHECK(via.format == "via1");
  CHECK(count_regions(via) == expected);
  CHECK(count_regions(coco) == expected);
  REQUIRE(via.images.size() == coco.images.size());

  // Every photo's header agrees with the COCO size; no problem is reported.
  Warnings problems;
  DatasetStats st = validate_dataset(via, problems);
  CHECK(problems.empty());
  CHECK(st.instances_per_class.at(1) == int64_t(expected));

  // Reference pixel counts per instance: VIA area, COCO area, intersection, union.
  const auto ref = mrc::read_safetensors(mrc::test::fixture("balloon.safetensors")).at(split).as<int64_t>();
  REQUIRE(ref.size() == 4 * expected);

  // The VIA dataset exported to COCO, read back: the +0.5 convention of the twin.
  Dataset exported = parse_coco(nlohmann::ordered_json::parse(coco_json(via)), "exported");

  std::map<std::string, const ImageRecord*> by_name;
  for (const auto& rec : coco.images) by_name[rec.image_id] = &rec;
  size_t n = 0;
  int64_t inter_sum = 0, union_sum = 0;
  double worst = 1.0;
  for (size_t i = 0; i < via.images.size(); ++i) {
    const ImageRecord& rv = via.images[i];
    auto it = by_name.find(rv.image_id);
    REQUIRE_MESSAGE(it != by_name.end(), rv.image_id);
    const ImageRecord& rc = *it->second;
    CHECK(rv.width == rc.width);
    CHECK(rv.height == rc.height);
    REQUIRE(rv.regions.size() == rc.regions.size());
    for (size_t k = 0; k < rv.regions.size(); ++k, ++n) {
      const Region& a = rv.regions[k];
      const Region& b = rc.regions[k];
      REQUIRE(b.coco_polygons.size() == 1);
      REQUIRE(b.coco_polygons[0].size() == 2 * a.xs.size() + 2);  // the twin repeats the first point
      bool shifted = true;
      for (size_t j = 0; j < a.xs.size(); ++j)
        shifted &= b.coco_polygons[0][2 * j] == a.xs[j] + 0.5f && b.coco_polygons[0][2 * j + 1] == a.ys[j] + 0.5f;
      CHECK_MESSAGE(shifted, rv.image_id << " region " << k);

      const Mask mv = rasterize_region(a, rc.width, rc.height), mc = rasterize_region(b, rc.width, rc.height);
      int64_t inter = 0, uni = 0;
      for (size_t p = 0; p < mv.pixels.size(); ++p) {
        inter += mv.pixels[p] & mc.pixels[p];
        uni += mv.pixels[p] | mc.pixels[p];
      }
      CHECK_MESSAGE(mv.area() == ref[4 * n + 0], rv.image_id << " region " << k);
      CHECK_MESSAGE(mc.area() == ref[4 * n + 1], rv.image_id << " region " << k);
      CHECK_MESSAGE(inter == ref[4 * n + 2], rv.image_id << " region " << k);
      CHECK_MESSAGE(uni == ref[4 * n + 3], rv.image_id << " region " << k);
      inter_sum += inter;
      union_sum += uni;
      worst = std::min(worst, double(inter) / double(uni));

      const Mask me = rasterize_region(exported.images[i].regions[k], rc.width, rc.height);
      CHECK_MESSAGE(mask_iou(me, mc) >= 0.99, rv.image_id << " region " << k);
      CHECK(me.pixels == mc.pixels);
    }
  }
  const double pooled = double(inter_sum) / double(union_sum);
  CHECK(pooled >= 0.99);
  MESSAGE(split << ": VIA(skimage) vs COCO(pycocotools) pooled IoU " << pooled << ", worst instance " << worst);
}

}  // namespace

TEST_CASE("balloon: VIA 1.x and its COCO twin give the same instances") {
  if (balloon_dir().empty()) {
    MESSAGE("skipped: ../shared/data/balloon not present");
    return;
  }
  check_split("train", 255);
  check_split("val", 50);
}

TEST_CASE("balloon: load_dataset detects both formats and load_sample decodes a photo") {
  if (balloon_dir().empty()) return;
  const fs::path root = balloon_dir();
  Dataset via = load_dataset((root / "val" / "via_region_data.json").string(), "");
  Dataset coco = load_dataset((root / "coco" / "val_coco_mmdet.json").string(), (root / "val").string());
  CHECK(via.format == "via1");
  CHECK(coco.format == "coco");
  CHECK(coco.class_names.at(1) == "balloon");
  Sample s = load_sample(coco, 0);
  CHECK(s.image.channels == 3);
  CHECK(s.image.width == coco.images[0].width);
  CHECK(s.instances.size() == coco.images[0].regions.size());
  for (const auto& inst : s.instances) {
    CHECK(inst.mask.area() > 0);
    CHECK(inst.box.x2 > inst.box.x1);
  }
}

// libFuzzer target: the COCO annotation reader (data/coco.cpp): images, categories, polygons, RLE as
// a list or as pycocotools' compressed string. Each input is read strictly and leniently (bad
// annotations skipped); every region read is rasterized at its image's size when that is small.
#include <nlohmann/json.hpp>

#include "data/coco.h"
#include "data/rasterize.h"
#include "fuzz_util.h"

using namespace mrc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::ordered_json root = nlohmann::ordered_json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return 0;
  for (bool skip : {false, true}) {
    fuzz::expect_clean_errors([&] {
      data::CocoReadOptions o;
      o.skip_bad_annotations = skip;
      data::Warnings warnings;
      const data::Dataset ds = data::parse_coco(root, "fuzz/coco.json", o, &warnings);
      fuzz::check(ds.coco_category_ids.size() == ds.class_names.size(), "category ids and class names differ in count");
      for (const auto& img : ds.images) {
        fuzz::check(img.width >= 0 && img.height >= 0, "negative image size");
        for (const auto& r : img.regions) {
          fuzz::check(r.class_id >= 1 && size_t(r.class_id) < ds.class_names.size(), "region class id out of range",
                      std::to_string(r.class_id));
          const bool known = img.width > 0 && img.height > 0;
          const int w = known ? img.width : 19, h = known ? img.height : 13;
          if (int64_t(w) * h > 1 << 16) continue;  // keep each run fast
          const data::Mask m = data::rasterize_region(r, w, h);
          fuzz::check(m.width == w && m.height == h && m.pixels.size() == size_t(w) * size_t(h), "mask of the wrong size");
        }
      }
    });
  }
  return 0;
}

// libFuzzer target: the VIA 1.x / 2.x annotation reader (data/via.cpp), from JSON bytes. Each input is
// read three ways: one class, classes from a region attribute ("name", its declared options or free
// text), and that with bad regions skipped into warnings; every region read is then rasterized on a
// small canvas, as training does with the photo's size.
#include <nlohmann/json.hpp>

#include "data/rasterize.h"
#include "data/via.h"
#include "fuzz_util.h"

using namespace mrc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::ordered_json root = nlohmann::ordered_json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return 0;
  data::ViaReadOptions single;
  data::ViaReadOptions by_attribute;
  by_attribute.class_attribute = "name";
  data::ViaReadOptions lenient = by_attribute;
  lenient.skip_bad_regions = true;
  lenient.option_descriptions_as_names = true;
  for (const data::ViaReadOptions* o : {&single, &by_attribute, &lenient}) {
    fuzz::expect_clean_errors([&] {
      data::Warnings warnings;
      const data::Dataset ds = data::parse_via(root, "fuzz/via.json", *o, &warnings);
      for (const auto& img : ds.images)
        for (const auto& r : img.regions) {
          fuzz::check(r.class_id >= 1 && size_t(r.class_id) < ds.class_names.size(), "region class id out of range",
                      std::to_string(r.class_id));
          const data::Mask m = data::rasterize_region(r, 23, 17);
          fuzz::check(m.width == 23 && m.height == 17 && m.pixels.size() == 23 * 17, "mask of the wrong size");
        }
    });
  }
  return 0;
}

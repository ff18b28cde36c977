// Inputs the parser fuzzers (fuzz/, scripts/fuzz) showed to be mishandled, kept as regression tests: each
// was undefined behaviour (UBSan) before its fix and must now give a clear error or a well-defined result.
#include <doctest/doctest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/coco.h"
#include "data/rasterize.h"
#include "data/via.h"
#include "tensor/safetensors.h"

using namespace mrc;
using namespace mrc::data;
using ojson = nlohmann::ordered_json;

namespace {
std::string safetensors_bytes(const std::string& header) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char(n >> (8 * i));
  return out + header;
}
Dataset coco(const std::string& text) { return parse_coco(ojson::parse(text), "f.json"); }
Mask via_region_mask(const std::string& shape_attributes) {
  const Dataset ds = parse_via(ojson::parse(R"({"a.jpg1": {"filename": "a.jpg", "size": 1, "regions": [{"shape_attributes": )" +
                                            shape_attributes + R"(}]}})"),
                               "v.json");
  REQUIRE(ds.images.size() == 1);
  REQUIRE(ds.images[0].regions.size() == 1);
  return rasterize_region(ds.images[0].regions[0], 12, 9);
}
}  // namespace

TEST_CASE("safetensors: a shape whose element count overflows 64 bits is refused") {
  // [2^32, 2^32] multiplied in int64 overflowed (undefined), wrapped to 0 and matched an empty data range.
  std::istringstream in(safetensors_bytes(R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})"));
  CHECK_THROWS_WITH(read_safetensors(in, "x.safetensors"),
                    doctest::Contains("safetensors file 'x.safetensors': tensor 'w' has a shape whose element count does not fit"));
  // a large but representable count that the file cannot hold names the shortfall
  std::istringstream in2(safetensors_bytes(R"({"w": {"dtype": "F64", "shape": [2305843009213693952], "data_offsets": [0, 0]}})"));
  CHECK_THROWS_WITH(read_safetensors(in2, "y.safetensors"), doctest::Contains("its shape needs more than the file holds"));
  std::istringstream ok(safetensors_bytes(R"({"w": {"dtype": "U8", "shape": [2, 0], "data_offsets": [0, 0]}})"));
  CHECK(read_safetensors(ok, "z.safetensors").at("w").numel() == 0);
}

TEST_CASE("COCO: integers beyond int64 and sizes beyond int are refused, not converted") {
  // 1e300 as int64 was undefined; 2^32 + 5 as int silently became 5.
  CHECK_THROWS_WITH(coco(R"({"images": [{"id": 1, "file_name": "a", "width": 1e300}], "annotations": [], "categories": []})"),
                    doctest::Contains("field 'width' should be an integer, got 1e+300"));
  CHECK_THROWS_WITH(coco(R"({"images": [{"id": 18446744073709551615, "file_name": "a"}], "annotations": [], "categories": []})"),
                    doctest::Contains("field 'id' is out of range"));
  CHECK_THROWS_WITH(coco(R"({"images": [{"id": 1, "file_name": "a", "height": 4294967301}], "annotations": [], "categories": []})"),
                    doctest::Contains("'height' 4294967301 is out of range"));
  CHECK_THROWS_WITH(coco(R"({"images": [{"id": 1, "file_name": "a", "height": -2}], "annotations": [], "categories": []})"),
                    doctest::Contains("'height' -2 is out of range"));
  // An RLE size of [2^62, 4]: h * w overflowed int64 before the runs were compared with it.
  CHECK_THROWS_WITH(coco(R"({"images": [{"id": 1, "file_name": "a"}], "categories": [{"id": 1, "name": "x"}],
                           "annotations": [{"image_id": 1, "category_id": 1,
                                            "segmentation": {"size": [4611686018427387904, 4], "counts": []}}]})"),
                    doctest::Contains("RLE height 4611686018427387904 is out of range"));
  const Dataset ds = coco(R"({"images": [{"id": 1, "file_name": "a", "width": 2, "height": 3}], "categories": [{"id": 1, "name": "x"}],
                              "annotations": [{"image_id": 1, "category_id": 1, "segmentation": {"size": [3, 2], "counts": [1, 4, 1]}}]})");
  CHECK(rasterize_region(ds.images[0].regions[0], 2, 3).area() == 4);
}

TEST_CASE("VIA shapes far outside the image are reported by coordinate instead of overflowing") {
  // Coordinates of 3e38 (finite floats) were converted to long: undefined behaviour. Such a region is now
  // refused with the coordinate and the accepted range (issue 12: never silently clipped into a mask).
  for (const char* shape : {R"({"name": "polygon", "all_points_x": [3e38, -3e38, 0], "all_points_y": [0, 3e38, -3e38]})",
                            R"({"name": "circle", "cx": 3e38, "cy": 1, "r": 2})",
                            R"({"name": "ellipse", "cx": -3e38, "cy": 1, "rx": 1, "ry": 3e38, "theta": 0})",
                            R"({"name": "ellipse", "cx": 1, "cy": 1, "rx": 3e38, "ry": 1e-38, "theta": 3e38})",
                            R"({"name": "polygon", "all_points_x": [-1e30, 1e30, 1e30, -1e30], "all_points_y": [-1e30, -1e30, 1e30, 1e30]})"}) {
    CAPTURE(shape);
    CHECK_THROWS_WITH_AS(via_region_mask(shape), doctest::Contains("lies far outside the 12x9 photo"), std::invalid_argument);
  }
  // the rasterizer underneath stays defined on such coordinates
  CHECK(rasterize_polygon(std::vector<double>{-1e300, 1e300, 0}, std::vector<double>{0, 0, 1e300}, 5, 4).width == 5);
}

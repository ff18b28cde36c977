// Rasterizers against their references, pixel for pixel: skimage.draw.polygon / ellipse for VIA
// shapes, pycocotools for COCO polygons, boxes and RLE (reference masks written by
// tests/fixtures/test_rasterize.py). Plus hand-computed cases for boxes, IoU and load_sample.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

#include "data/image_io.h"
#include "data/rasterize.h"
#include "data/rle.h"
#include "tensor/atomic_file.h"
#include "tensor/safetensors.h"
#include "test_util.h"

using namespace mrc::data;
namespace fs = std::filesystem;

namespace {

const mrc::SafetensorsFile& reference() {
  static mrc::SafetensorsFile f = mrc::read_safetensors(mrc::test::fixture("rasterize.safetensors"));
  return f;
}

Mask reference_mask(const std::string& name) {
  const auto& e = reference().at(name);
  REQUIRE(e.shape.size() == 2);
  Mask m(int(e.shape[1]), int(e.shape[0]));
  m.pixels = e.as<uint8_t>();
  return m;
}

// Number of differing pixels; prints the first few.
int mismatches(const Mask& got, const Mask& want, const std::string& what) {
  REQUIRE(got.width == want.width);
  REQUIRE(got.height == want.height);
  int bad = 0;
  for (int y = 0; y < want.height; ++y)
    for (int x = 0; x < want.width; ++x)
      if ((got.at(x, y) != 0) != (want.at(x, y) != 0) && ++bad <= 5)
        std::printf("%s: pixel (x=%d, y=%d) got %d, reference %d\n", what.c_str(), x, y, got.at(x, y), want.at(x, y));
  return bad;
}

// Runs f on every case "<prefix><i>" the fixture holds (while "<prefix><i><probe>" exists); returns how
// many there were, so a test also notices cases that went missing.
int for_each_case(const std::string& prefix, const std::string& probe, const std::function<void(const std::string&)>& f) {
  int cases = 0;
  for (; reference().contains(prefix + std::to_string(cases) + probe); ++cases) f(prefix + std::to_string(cases));
  return cases;
}

}  // namespace

TEST_CASE("polygon matches skimage.draw.polygon (0.19) pixel for pixel") {
  const int cases = for_each_case("poly", "_x", [](const std::string& p) {
    Mask want = reference_mask(p + "_mask");
    Mask got = rasterize_polygon(reference().at(p + "_x").as<double>(), reference().at(p + "_y").as<double>(),
                                 want.width, want.height);
    CHECK_MESSAGE(mismatches(got, want, p) == 0, p);
  });
  CHECK(cases == 60);
}

TEST_CASE("ellipse matches skimage.draw.ellipse with rotation = -theta") {
  const int cases = for_each_case("ell", "_params", [](const std::string& p) {
    auto q = reference().at(p + "_params").as<double>();
    Mask want = reference_mask(p + "_mask");
    Mask got = rasterize_ellipse(q[0], q[1], q[2], q[3], q[4], want.width, want.height);
    CHECK_MESSAGE(mismatches(got, want, p) == 0, p);
  });
  CHECK(cases == 40);
}

TEST_CASE("COCO polygons match pycocotools frPyObjects + merge + decode") {
  const int cases = for_each_case("coco", "_mask", [](const std::string& p) {
    std::vector<std::vector<double>> polys;
    for (int j = 0; reference().contains(p + "_poly" + std::to_string(j)); ++j)
      polys.push_back(reference().at(p + "_poly" + std::to_string(j)).as<double>());
    Mask want = reference_mask(p + "_mask");
    Mask got = rasterize_coco_polygons(polys, want.width, want.height);
    CHECK_MESSAGE(mismatches(got, want, p) == 0, p);
  });
  CHECK(cases == 50);
}

TEST_CASE("COCO boxes match pycocotools frPyObjects(bbox)") {
  const int cases = for_each_case("box", "_xywh", [](const std::string& p) {
    auto b = reference().at(p + "_xywh").as<double>();
    Mask want = reference_mask(p + "_mask");
    Mask got = rasterize_coco_box(b[0], b[1], b[2], b[3], want.width, want.height);
    CHECK_MESSAGE(mismatches(got, want, p) == 0, p);
  });
  CHECK(cases == 20);
}

TEST_CASE("RLE counts and compressed strings match pycocotools encode") {
  const int cases = for_each_case("rle", "_mask", [](const std::string& p) {
    Mask m = reference_mask(p + "_mask");
    auto sb = reference().at(p + "_string").as<uint8_t>();
    const std::string want(sb.begin(), sb.end());
    auto counts64 = reference().at(p + "_counts").as<int64_t>();
    std::vector<uint32_t> counts(counts64.begin(), counts64.end());

    Rle r = mask_to_rle(m);
    CHECK(r.counts == counts);
    CHECK(rle_to_string(r.counts) == want);
    CHECK(rle_from_string(want) == counts);
    CHECK(mismatches(rle_to_mask(Rle{m.width, m.height, rle_from_string(want)}), m, p) == 0);
    CHECK(rle_area(r) == m.area());
  });
  CHECK(cases == 25);
}

TEST_CASE("RLE by hand: column-major runs starting with zeros") {
  // 3 rows x 2 columns; column 0 = [0,1,1], column 1 = [1,0,0] -> runs 1 (zero), 3 (ones), 2 (zeros).
  Mask m(2, 3);
  m.at(0, 1) = m.at(0, 2) = m.at(1, 0) = 1;
  Rle r = mask_to_rle(m);
  CHECK(r.counts == std::vector<uint32_t>{1, 3, 2});
  Mask all(2, 2);
  all.pixels.assign(4, 1);
  CHECK(mask_to_rle(all).counts == std::vector<uint32_t>{0, 4});
  CHECK_THROWS_WITH_AS(rle_to_mask(Rle{2, 3, {1, 2}}), doctest::Contains("expected 6"), std::runtime_error);
  CHECK_THROWS_WITH_AS(rle_from_string("1~", "ann 7"), doctest::Contains("ann 7"), std::runtime_error);
  CHECK_THROWS_WITH_AS(rle_from_string("Q", "ann 8"), doctest::Contains("ends inside a number"), std::runtime_error);
}

TEST_CASE("mask_to_box is tight with exclusive x2/y2; mask_iou by hand") {
  Mask m(10, 8);
  CHECK(mask_to_box(m).x2 == 0);
  m.at(3, 2) = m.at(5, 6) = 1;
  Box b = mask_to_box(m);
  CHECK(b.x1 == 3);
  CHECK(b.y1 == 2);
  CHECK(b.x2 == 6);
  CHECK(b.y2 == 7);
  Mask a(4, 4), c(4, 4);
  for (int x = 0; x < 2; ++x)
    for (int y = 0; y < 4; ++y) a.at(x, y) = 1;  // 8 pixels
  for (int x = 1; x < 4; ++x)
    for (int y = 0; y < 4; ++y) c.at(x, y) = 1;  // 12 pixels, 4 shared
  CHECK(mask_iou(a, c) == doctest::Approx(4.0 / 16.0));
  CHECK(mask_iou(Mask(4, 4), Mask(4, 4)) == 0.0);
  CHECK_THROWS_AS(mask_iou(a, Mask(3, 4)), std::invalid_argument);
}

TEST_CASE("rasterize_region: VIA rect is its 4-corner polygon, degenerate shapes throw") {
  Region r;
  r.kind = ShapeKind::Rect;
  r.xs = {2};
  r.ys = {1};
  r.width = 3;
  r.height = 2;
  Mask m = rasterize_region(r, 10, 6);
  CHECK(m.area() == 4 * 3);  // columns 2..5, rows 1..3: the corners' pixel centres are on the edges
  CHECK(mask_to_box(m).x1 == 2);
  CHECK(mask_to_box(m).y2 == 4);
  Region p;
  p.xs = {1, 5};
  p.ys = {1, 5};
  CHECK_THROWS_WITH_AS(rasterize_region(p, 10, 10), doctest::Contains("at least 3"), std::invalid_argument);
  Region e;
  e.kind = ShapeKind::Ellipse;
  e.cx = e.cy = 5;
  e.rx = 0;
  e.ry = 2;
  CHECK_THROWS_AS(rasterize_region(e, 10, 10), std::invalid_argument);
  Region rle;
  rle.kind = ShapeKind::Rle;
  rle.rle_counts = {3, 4};
  CHECK_THROWS_WITH_AS(rasterize_region(rle, 4, 4), doctest::Contains("expected 16"), std::invalid_argument);
}

TEST_CASE("load_sample decodes, rasterizes, checks the size and reports bad regions by name") {
  const mrc::test::TempDir tmp;
  const fs::path& dir = tmp.path;
  Image im(12, 9, 3, 40);
  write_png((dir / "a.png").string(), im);

  Dataset ds;
  ds.source = "ann.json";
  ds.class_names = {"BG", "thing"};
  ImageRecord rec;
  rec.image_id = "a.png";
  rec.path = (dir / "a.png").string();
  Region tri;
  tri.xs = {1, 8, 1};
  tri.ys = {1, 1, 7};
  rec.regions.push_back(tri);
  Region outside;
  outside.xs = {30, 40, 35};
  outside.ys = {30, 30, 40};
  rec.regions.push_back(outside);
  ds.images.push_back(rec);

  CHECK_THROWS_WITH_AS(load_sample(ds, 0), doctest::Contains("image 'a.png' region 1"), std::runtime_error);
  LoadOptions lo;
  lo.skip_bad_regions = true;
  Warnings w;
  Sample s = load_sample(ds, 0, lo, &w);
  REQUIRE(s.instances.size() == 1);
  CHECK(w.size() == 1);
  CHECK(s.image.width == 12);
  CHECK(s.instances[0].class_id == 1);
  CHECK(s.instances[0].box.x1 == 1);
  CHECK(s.instances[0].box.x2 == 9);
  CHECK(s.instances[0].box.y2 == 8);

  // A JPEG carrying an EXIF rotation: applied (the 6x4 photo comes out 4x6) and warned about.
  auto jpg = encode_jpeg(Image(6, 4, 3, 90), 90);
  const uint8_t app1[] = {0xFF, 0xE1, 0, 34, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
                          1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0};
  jpg.insert(jpg.begin() + 2, std::begin(app1), std::end(app1));
  mrc::write_file_atomic((dir / "r.jpg").string(), std::string(jpg.begin(), jpg.end()));
  Dataset rot = ds;
  rot.images[0].image_id = "r.jpg";
  rot.images[0].path = (dir / "r.jpg").string();
  rot.images[0].regions.clear();
  Warnings rw;
  Sample rs = load_sample(rot, 0, lo, &rw);
  CHECK(rs.image.width == 4);
  CHECK(rs.image.height == 6);
  CHECK(rw.count("exif rotation") == 1);
  LoadOptions raw = lo;
  raw.decode.apply_exif = false;
  CHECK(load_sample(rot, 0, raw).image.width == 6);

  ds.images[0].width = 13;
  ds.images[0].height = 9;
  CHECK_THROWS_WITH_AS(load_sample(ds, 0, lo), doctest::Contains("annotated as 13x9"), std::runtime_error);
  ds.images[0].path = (dir / "missing.png").string();
  CHECK_THROWS_WITH_AS(load_sample(ds, 0, lo), doctest::Contains("not found"), std::runtime_error);
  CHECK_THROWS_AS(load_sample(ds, 5, lo), std::out_of_range);
}

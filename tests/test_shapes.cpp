// The generated shapes dataset: valid instances with occlusion removed, determinism, boundary
// tracing, and the written VIA + JPEG files reading back to the same masks.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "data/image_io.h"
#include "data/load_dataset.h"
#include "data/rasterize.h"
#include "data/shapes.h"
#include "test_util.h"

using namespace mrc::data;
namespace fs = std::filesystem;

TEST_CASE("generated photos hold valid, non-overlapping instances") {
  ShapesOptions o;
  o.seed = 11;
  std::map<int, int> per_class;
  int total = 0;
  for (int i = 0; i < 40; ++i) {
    const ShapesPhoto ph = generate_shapes_photo(i, o);
    const Sample& s = ph.sample;
    CHECK(s.image.width == 320);
    CHECK(s.image.height == 240);
    CHECK(s.image.channels == 3);
    REQUIRE(s.instances.size() >= 1);
    CHECK(s.instances.size() <= 5);
    REQUIRE(ph.regions.size() == s.instances.size());
    Mask seen(320, 240);
    for (size_t k = 0; k < s.instances.size(); ++k) {
      const Instance& inst = s.instances[k];
      CHECK(inst.class_id >= 1);
      CHECK(inst.class_id <= 5);
      CHECK(inst.mask.area() >= 40);
      // The box is the mask's, and the mask is exactly its VIA polygon rasterized.
      const Box b = mask_to_box(inst.mask);
      CHECK(inst.box.x1 == b.x1);
      CHECK(inst.box.y2 == b.y2);
      CHECK(ph.regions[k].class_id == inst.class_id);
      CHECK(rasterize_polygon(ph.regions[k].xs, ph.regions[k].ys, 320, 240).pixels == inst.mask.pixels);
      // Occlusion handled: no pixel belongs to two instances.
      for (size_t p = 0; p < seen.pixels.size(); ++p) {
        CHECK_FALSE((seen.pixels[p] && inst.mask.pixels[p]));
        seen.pixels[p] |= inst.mask.pixels[p];
      }
      ++per_class[inst.class_id];
      ++total;
    }
  }
  CHECK(per_class.size() == 5);   // every class shows up in 40 photos
  CHECK(total >= 60);
}

TEST_CASE("shapes are painted where their masks are") {
  const ShapesPhoto ph = generate_shapes_photo(3, ShapesOptions{});
  // Each instance's pixels are close to one colour (shading and noise aside), unlike the image as a whole.
  for (const auto& inst : ph.sample.instances) {
    double mean[3] = {0, 0, 0}, var = 0;
    int64_t n = 0;
    for (size_t p = 0; p < inst.mask.pixels.size(); ++p)
      if (inst.mask.pixels[p]) {
        for (int c = 0; c < 3; ++c) mean[c] += ph.sample.image.pixels[3 * p + c];
        ++n;
      }
    for (double& m : mean) m /= double(n);
    for (size_t p = 0; p < inst.mask.pixels.size(); ++p)
      if (inst.mask.pixels[p])
        for (int c = 0; c < 3; ++c) var += std::pow(ph.sample.image.pixels[3 * p + c] - mean[c], 2);
    CHECK(std::sqrt(var / double(3 * n)) < 30);
  }
}

TEST_CASE("the same seed gives the same photos") {
  ShapesOptions a, b;
  a.seed = b.seed = 5;
  const auto x = generate_shapes(3, a), y = generate_shapes(3, b);
  for (int i = 0; i < 3; ++i) {
    CHECK(x[size_t(i)].image.pixels == y[size_t(i)].image.pixels);
    CHECK(x[size_t(i)].instances.size() == y[size_t(i)].instances.size());
  }
  b.seed = 6;
  CHECK(generate_shapes(1, b)[0].image.pixels != x[0].image.pixels);
  CHECK(x[1].image_id == "shapes_00001.jpg");
}

TEST_CASE("boundary tracing by hand") {
  Mask m(10, 8);
  for (int y = 2; y < 6; ++y)
    for (int x = 3; x < 8; ++x) m.at(x, y) = 1;
  std::vector<float> xs, ys;
  trace_outer_boundary(m, xs, ys);
  // The rectangle's corner pixel centres, clockwise on screen from the top-left.
  CHECK(xs == std::vector<float>{3, 7, 7, 3});
  CHECK(ys == std::vector<float>{2, 2, 5, 5});
  // An L shape: the polygon rasterizes back to the same pixels.
  Mask l(9, 9);
  for (int y = 1; y < 8; ++y) l.at(2, y) = l.at(3, y) = 1;
  for (int x = 2; x < 8; ++x) l.at(x, 6) = l.at(x, 7) = 1;
  trace_outer_boundary(l, xs, ys);
  CHECK(rasterize_polygon(xs, ys, 9, 9).pixels == l.pixels);
  trace_outer_boundary(Mask(4, 4), xs, ys);
  CHECK(xs.empty());
}

TEST_CASE("write_shapes_dataset: VIA + JPEG read back to the same masks; the folder appears whole") {
  const mrc::test::TempDir tmp;
  const fs::path dir = tmp.path / "ds";  // not there yet: the writer makes it
  ShapesOptions o;
  o.width = 160;
  o.height = 120;
  o.seed = 2;
  write_shapes_dataset(dir.string(), 6, o, false, false);
  CHECK(fs::exists(dir / "via_region_data.json"));
  int tmp_left = 0;
  for (const auto& e : fs::directory_iterator(dir.parent_path()))
    tmp_left += e.path().filename().string().rfind(dir.filename().string() + ".tmp.", 0) == 0;
  CHECK(tmp_left == 0);

  DatasetOptions dopt;
  dopt.class_attribute = "class";
  const Dataset ds = load_dataset((dir / "via_region_data.json").string(), "", dopt);
  CHECK(ds.format == "via2");
  CHECK(ds.class_names == shapes_class_names());
  REQUIRE(ds.images.size() == 6);
  for (size_t i = 0; i < 6; ++i) {
    const Sample read = load_sample(ds, i);
    const Sample made = generate_shapes_photo(int(i), o).sample;
    CHECK(read.image_id == made.image_id);
    REQUIRE(read.instances.size() == made.instances.size());
    for (size_t k = 0; k < made.instances.size(); ++k) {
      CHECK(read.instances[k].class_id == made.instances[k].class_id);
      CHECK(read.instances[k].mask.pixels == made.instances[k].mask.pixels);
    }
    // JPEG: close to the in-memory pixels.
    double err = 0;
    for (size_t p = 0; p < made.image.pixels.size(); ++p) err += std::abs(int(read.image.pixels[p]) - int(made.image.pixels[p]));
    CHECK(err / double(made.image.pixels.size()) < 4.0);
  }
  // An existing folder is not touched without overwrite, replaced with it.
  CHECK_THROWS_WITH_AS(write_shapes_dataset(dir.string(), 2, o, false, false), doctest::Contains("already exists"),
                       std::runtime_error);
  CHECK(fs::exists(dir / "shapes_00005.jpg"));
  write_shapes_dataset(dir.string(), 2, o, true, false);
  CHECK_FALSE(fs::exists(dir / "shapes_00005.jpg"));
  CHECK(fs::exists(dir / "shapes_00001.jpg"));
  fs::remove_all(dir);
  CHECK_THROWS_AS(write_shapes_dataset((dir / "no" / "parent").string(), 2, o, false, false), std::runtime_error);
  CHECK_THROWS_AS(generate_shapes_photo(0, ShapesOptions{8, 8}), std::invalid_argument);
}

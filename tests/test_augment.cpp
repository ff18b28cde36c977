// Augmenters: imgaug 0.4 parity on fixed parameters (fixture from tests/fixtures/test_augment.py),
// geometric invariants (image and mask move together), hand-checked geometry, seeds, dropping of
// vanished instances, recomputed boxes, meta augmenters, and config errors.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "data/augment/geometric.h"
#include "data/augment/photometric.h"
#include "data/augment/pipeline.h"
#include "data/rasterize.h"
#include "tensor/safetensors.h"
#include "test_util.h"

using namespace mrc::data;
using namespace mrc::data::aug;

namespace {

Image image_from(const mrc::SafetensorsEntry& e) {
  REQUIRE(e.shape.size() == 3);
  Image im(int(e.shape[1]), int(e.shape[0]), int(e.shape[2]));
  im.pixels = e.as<uint8_t>();
  return im;
}

std::vector<Mask> masks_from(const mrc::SafetensorsEntry& e) {
  REQUIRE(e.shape.size() == 3);
  const int H = int(e.shape[0]), W = int(e.shape[1]), C = int(e.shape[2]);
  const auto v = e.as<uint8_t>();
  std::vector<Mask> out(size_t(C), Mask(W, H));
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < C; ++c) out[size_t(c)].at(x, y) = v[(size_t(y) * W + x) * C + c] != 0;
  return out;
}

Sample sample_with(const Image& im, const std::vector<Mask>& masks) {
  Sample s;
  s.image = im;
  for (size_t k = 0; k < masks.size(); ++k) {
    Instance inst;
    inst.class_id = int(k) + 1;
    inst.mask = masks[k];
    inst.box = mask_to_box(inst.mask);
    s.instances.push_back(inst);
  }
  return s;
}

// A white shape on black and the same shape as a mask.
Sample white_shape_sample(int W, int H) {
  const std::vector<double> xs = {0.30 * W, 0.72 * W, 0.60 * W, 0.22 * W}, ys = {0.25 * H, 0.35 * H, 0.78 * H, 0.62 * H};
  Mask m = rasterize_polygon(xs, ys, W, H);
  Image im(W, H, 3, 0);
  for (size_t i = 0; i < m.pixels.size(); ++i)
    if (m.pixels[i]) im.pixels[3 * i] = im.pixels[3 * i + 1] = im.pixels[3 * i + 2] = 255;
  return sample_with(im, {m});
}

Mask threshold(const Image& im) {
  Mask m(im.width, im.height);
  for (size_t i = 0; i < m.pixels.size(); ++i) m.pixels[i] = im.pixels[i * size_t(im.channels)] > 127;
  return m;
}

Pipeline one(const std::string& aug_json) { return parse_pipeline_text("{\"pipeline\": [" + aug_json + "]}", "test"); }

}  // namespace

TEST_CASE("imgaug 0.4 parity on fixed parameters") {
  const auto st = mrc::read_safetensors(mrc::test::fixture("augment.safetensors"));
  const Image image = image_from(st.at("image"));
  const std::vector<Mask> masks = masks_from(st.at("masks"));
  std::stringstream names(st.metadata.at("cases"));
  std::string name;
  int cases = 0;
  while (std::getline(names, name, ',')) {
    CAPTURE(name);
    const Pipeline p = parse_pipeline_text(st.metadata.at("config:" + name), name);
    Sample s = sample_with(image, masks);
    Rng rng(0);
    p.root()->apply(s, rng);   // no finalize: instance order stays as imgaug's channels
    const Image ref = image_from(st.at(name + "/image"));
    REQUIRE(s.image.width == ref.width);
    REQUIRE(s.image.height == ref.height);
    int max_diff = 0;
    size_t exact = 0;
    for (size_t i = 0; i < ref.pixels.size(); ++i) {
      const int d = std::abs(int(s.image.pixels[i]) - int(ref.pixels[i]));
      max_diff = std::max(max_diff, d);
      exact += d == 0;
    }
    const double exact_frac = double(exact) / double(ref.pixels.size());
    if (name.rfind("gaussian_blur", 0) == 0) {
      // cv2 blurs 8-bit images in fixed point, we in float: rounding may differ by one level.
      CHECK(max_diff <= 1);
      CHECK(exact_frac >= 0.9);
    } else {
      // Same fixed-point warp / same float32 lookup tables: identical pixels.
      CHECK(max_diff == 0);
    }
    if (st.contains(name + "/masks")) {
      const std::vector<Mask> ref_masks = masks_from(st.at(name + "/masks"));
      REQUIRE(s.instances.size() == ref_masks.size());
      for (size_t k = 0; k < ref_masks.size(); ++k) CHECK(s.instances[k].mask.pixels == ref_masks[k].pixels);
    }
    ++cases;
  }
  CHECK(cases >= 18);
}

TEST_CASE("Affine matrix equals imgaug's to_matrix") {
  const auto st = mrc::read_safetensors(mrc::test::fixture("augment.safetensors"));
  const int n = std::stoi(st.metadata.at("matrices"));
  REQUIRE(n >= 4);
  for (int i = 0; i < n; ++i) {
    const auto p = st.at("matrix" + std::to_string(i) + "/params").as<double>();
    const auto ref = st.at("matrix" + std::to_string(i)).as<double>();
    AffineDraw d{p[0], p[1], p[2], p[3], p[4], p[5], p[6]};
    const AffineMatrix m = imgaug_affine_matrix(d, int(p[7]), int(p[8]));
    // imgaug builds the y-shear with 3.141592/2 for a right angle; that costs ~1e-6 relative.
    const double ours[6] = {m.a, m.b, m.c, m.d, m.e, m.f};
    for (int k = 0; k < 6; ++k) CHECK(ours[k] == doctest::Approx(ref[size_t(k)]).epsilon(1e-5).scale(1.0));
  }
}

TEST_CASE("Fliplr and Flipud twice are the identity; one flip mirrors by hand") {
  Sample s = white_shape_sample(37, 23);
  s.image.pixels[3 * 5] = 77;   // make the image asymmetric
  const Sample orig = s;
  for (const char* cfg : {R"({"type": "Fliplr", "p": 1})", R"({"type": "Flipud", "p": 1})"}) {
    Sample t = orig;
    const Pipeline p = one(cfg);
    p(t, 1);
    CHECK(t.image.pixels != orig.image.pixels);
    p(t, 2);
    CHECK(t.image.pixels == orig.image.pixels);
    CHECK(t.instances[0].mask.pixels == orig.instances[0].mask.pixels);
  }
  Sample t = orig;
  one(R"({"type": "Fliplr"})")(t, 3);   // imgaug's default p is 1
  for (int y = 0; y < 23; ++y)
    for (int x = 0; x < 37; ++x) {
      CHECK(t.image.at(x, y)[0] == orig.image.at(36 - x, y)[0]);
      CHECK(t.instances[0].mask.at(x, y) == orig.instances[0].mask.at(36 - x, y));
    }
  // Box recomputed: columns [x1, x2) become [W - x2, W - x1).
  const Box b = orig.instances[0].box, f = t.instances[0].box;
  CHECK(f.x1 == doctest::Approx(37 - b.x2));
  CHECK(f.x2 == doctest::Approx(37 - b.x1));
  CHECK(f.y1 == doctest::Approx(b.y1));
  CHECK(f.y2 == doctest::Approx(b.y2));
}

TEST_CASE("geometric augmenters move image and mask together (IoU >= 0.98)") {
  const char* configs[] = {
      R"({"type": "Fliplr", "p": 1})",
      R"({"type": "Flipud", "p": 1})",
      R"({"type": "Affine", "rotate": [-45, 45]})",
      R"({"type": "Affine", "rotate": 33, "order": 0})",
      R"({"type": "Affine", "scale": [0.6, 1.4]})",
      R"({"type": "Affine", "scale": {"x": [0.7, 1.3], "y": [0.7, 1.3]}})",
      R"({"type": "Affine", "shear": [-20, 20]})",
      R"({"type": "Affine", "shear": {"x": 0, "y": [-20, 20]}})",
      R"({"type": "Affine", "translate_percent": {"x": [-0.2, 0.2], "y": [-0.2, 0.2]}})",
      R"({"type": "Affine", "translate_px": [-9, 9]})",
      R"({"type": "Affine", "scale": [0.8, 1.2], "rotate": [-30, 30], "shear": {"x": [-10, 10]}, "cval": 0})",
      R"({"type": "Crop", "percent": [0, 0.2]})",
      R"({"type": "Crop", "percent": [0, 0.2], "keep_size": false})",
      R"({"type": "Crop", "px": [0, 12], "sample_independently": false})",
  };
  for (const char* cfg : configs) {
    CAPTURE(cfg);
    const Pipeline p = one(cfg);
    for (uint64_t seed = 0; seed < 6; ++seed) {
      Sample s = white_shape_sample(96, 72);
      Rng rng(seed);
      p.root()->apply(s, rng);
      REQUIRE(s.instances.size() == 1);
      const Mask from_image = threshold(s.image);
      CHECK(from_image.area() > 100);
      CHECK(mask_iou(from_image, s.instances[0].mask) >= 0.98);
    }
  }
}

TEST_CASE("Affine geometry by hand: 90 degree rotation and pixel translation") {
  // A 9x9 image with a marked pixel. imgaug rotates about the centre pixel (4, 4); a positive
  // angle turns clockwise on screen (y down): (x, y) -> (4 - (y - 4), 4 + (x - 4)).
  Image im(9, 9, 1, 0);
  im.at(6, 2)[0] = 200;
  Mask m(9, 9);
  m.at(6, 2) = 1;
  Sample s = sample_with(im, {m});
  Rng rng(0);
  one(R"({"type": "Affine", "rotate": 90, "order": 0})").root()->apply(s, rng);
  CHECK(s.image.at(6, 6)[0] == 200);
  CHECK(s.instances[0].mask.at(6, 6) == 1);
  CHECK(s.instances[0].mask.area() == 1);
  // translate_px moves by whole pixels, bilinear then reproduces values exactly.
  Sample t = sample_with(im, {m});
  one(R"({"type": "Affine", "translate_px": {"x": 2, "y": -1}, "order": 1})").root()->apply(t, rng);
  CHECK(t.image.at(8, 1)[0] == 200);
  CHECK(t.instances[0].mask.at(8, 1) == 1);
  CHECK(t.image.at(6, 2)[0] == 0);
}

TEST_CASE("Crop(percent) per side by hand") {
  // 50 rows x 40 columns, top 10 % -> 5 rows, right 0.125 -> 5 columns, bottom 0.3 -> 15 rows,
  // left 0.0625 -> 2.5 -> 2 columns (round half to even, as np.round).
  Image im(40, 50, 1);
  for (int y = 0; y < 50; ++y)
    for (int x = 0; x < 40; ++x) im.at(x, y)[0] = uint8_t(y * 4 + x % 4);
  Sample s = sample_with(im, {});
  Rng rng(0);
  one(R"({"type": "Crop", "percent": {"top": 0.1, "right": 0.125, "bottom": 0.3, "left": 0.0625}, "keep_size": false})")
      .root()
      ->apply(s, rng);
  CHECK(s.image.width == 40 - 5 - 2);
  CHECK(s.image.height == 50 - 5 - 15);
  CHECK(s.image.at(0, 0)[0] == im.at(2, 5)[0]);
  // Never below 1x1 (imgaug's _crop_prevent_zero_size).
  const auto a = Crop::prevent_zero_size(10, 10, {6, 6, 6, 6});
  CHECK(10 - a[0] - a[2] == 1);
  CHECK(10 - a[1] - a[3] == 1);
}

TEST_CASE("photometric augmenters follow imgaug's formulas") {
  Image im(256, 1, 3);
  for (int v = 0; v < 256; ++v) im.at(v, 0)[0] = im.at(v, 0)[1] = im.at(v, 0)[2] = uint8_t(v);
  Sample s = sample_with(im, {});
  Rng rng(0);
  one(R"({"type": "LinearContrast", "alpha": 2})").root()->apply(s, rng);
  // 127 + 2 (v - 127), clipped, truncated.
  CHECK(s.image.at(100, 0)[0] == 73);
  CHECK(s.image.at(127, 0)[0] == 127);
  CHECK(s.image.at(200, 0)[0] == 255);
  CHECK(s.image.at(50, 0)[0] == 0);
  Sample m = sample_with(im, {});
  one(R"({"type": "Multiply", "mul": 0.5})").root()->apply(m, rng);
  CHECK(m.image.at(101, 0)[1] == 50);   // 50.5 truncated
  // per_channel = 1: three different factors per sample; = 0: the same for all channels.
  int differing = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Sample a = sample_with(im, {});
    one(R"({"type": "Multiply", "mul": [0.5, 1.5], "per_channel": true})")(a, seed);
    differing += a.image.at(200, 0)[0] != a.image.at(200, 0)[1];
    Sample b = sample_with(im, {});
    one(R"({"type": "Multiply", "mul": [0.5, 1.5], "per_channel": false})")(b, seed);
    CHECK(b.image.at(200, 0)[0] == b.image.at(200, 0)[1]);
    CHECK(b.image.at(200, 0)[1] == b.image.at(200, 0)[2]);
  }
  CHECK(differing >= 18);
  // per_channel as a probability: about that fraction of samples goes per channel.
  int per = 0;
  const Pipeline half = one(R"({"type": "LinearContrast", "alpha": [0.5, 1.5], "per_channel": 0.3})");
  for (uint64_t seed = 0; seed < 400; ++seed) {
    Sample a = sample_with(im, {});
    half(a, seed);
    per += a.image.at(230, 0)[0] != a.image.at(230, 0)[1] || a.image.at(230, 0)[1] != a.image.at(230, 0)[2];
  }
  CHECK(per > 400 * 0.3 - 40);
  CHECK(per < 400 * 0.3 + 40);
}

TEST_CASE("AdditiveGaussianNoise: scale in 0..255 units, per pixel") {
  Image grey(200, 200, 3, 128);
  Sample s = sample_with(grey, {});
  one(R"({"type": "AdditiveGaussianNoise", "loc": 3, "scale": 10, "per_channel": false})")(s, 7);
  double sum = 0, sq = 0;
  bool shared = true;
  for (size_t i = 0; i < s.image.pixels.size(); i += 3) {
    const double d = double(s.image.pixels[i]) - 128;
    sum += d;
    sq += d * d;
    shared = shared && s.image.pixels[i] == s.image.pixels[i + 1] && s.image.pixels[i] == s.image.pixels[i + 2];
  }
  const double n = 200.0 * 200.0, mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
  CHECK(mean == doctest::Approx(3).epsilon(0.05).scale(1));
  CHECK(sd == doctest::Approx(10).epsilon(0.03));
  CHECK(shared);
  Sample t = sample_with(grey, {});
  one(R"({"type": "AdditiveGaussianNoise", "scale": 10, "per_channel": true})")(t, 7);
  size_t differ = 0;
  for (size_t i = 0; i < t.image.pixels.size(); i += 3) differ += t.image.pixels[i] != t.image.pixels[i + 1];
  CHECK(differ > size_t(n * 0.8));
}

TEST_CASE("a seed reproduces the pipeline exactly") {
  const Pipeline p = study_pipeline();
  Sample base = white_shape_sample(80, 60);
  for (size_t i = 0; i < base.image.pixels.size(); ++i) base.image.pixels[i] = uint8_t(base.image.pixels[i] ^ (i * 7));
  Sample a = base, b = base, c = base;
  p(a, 42);
  p(b, 42);
  p(c, 43);
  CHECK(a.image.pixels == b.image.pixels);
  REQUIRE(a.instances.size() == b.instances.size());
  for (size_t k = 0; k < a.instances.size(); ++k) CHECK(a.instances[k].mask.pixels == b.instances[k].mask.pixels);
  CHECK(a.image.pixels != c.image.pixels);
  // The same numbers come out of the generator on every platform (mt19937_64 is specified).
  Rng r(0);
  Rng r2(0);
  for (int i = 0; i < 5; ++i) CHECK(r.next() == r2.next());
  std::mt19937_64 ref(mix64(0));
  Rng r3(0);
  CHECK(r3.next() == ref());
  CHECK(std::mt19937_64(5489u)() == 14514284786278117030ull);   // the standard's 1st value for the default seed
}

TEST_CASE("vanished instances are dropped and boxes recomputed") {
  Image im(60, 40, 3, 0);
  Mask corner(60, 40), centre(60, 40);
  for (int y = 2; y < 6; ++y)
    for (int x = 52; x < 58; ++x) corner.at(x, y) = 1;
  for (int y = 15; y < 25; ++y)
    for (int x = 20; x < 30; ++x) centre.at(x, y) = 1;
  Sample s = sample_with(im, {corner, centre});
  one(R"({"type": "Affine", "translate_px": {"x": 10, "y": 0}, "order": 0})")(s, 1);
  REQUIRE(s.instances.size() == 1);
  CHECK(s.instances[0].class_id == 2);
  CHECK(s.instances[0].box.x1 == 30);
  CHECK(s.instances[0].box.x2 == 40);
  CHECK(s.instances[0].box.y1 == 15);
  CHECK(s.instances[0].box.y2 == 25);
}

TEST_CASE("meta augmenters: Sometimes, SomeOf, OneOf, Sequential random_order") {
  // Markers: Fliplr / Flipud / Multiply(0) are told apart on an asymmetric image.
  Image im(4, 4, 1, 10);
  im.at(0, 0)[0] = 200;
  auto which = [&](const Image& out) {
    int flags = 0;
    if (out.at(0, 0)[0] == 0 && out.at(1, 1)[0] == 0) return 4;   // Multiply(0) ran (last)
    if (out.at(3, 0)[0] == 200 || out.at(3, 3)[0] == 200) flags |= 1;
    if (out.at(0, 3)[0] == 200 || out.at(3, 3)[0] == 200) flags |= 2;
    return flags;
  };
  const Pipeline some = one(R"({"type": "SomeOf", "n": 1, "children": [{"type": "Fliplr"}, {"type": "Flipud"}]})");
  const Pipeline oneof = one(R"({"type": "OneOf", "children": [{"type": "Fliplr"}, {"type": "Flipud"}]})");
  const Pipeline both = one(R"({"type": "SomeOf", "n": [2, null], "children": [{"type": "Fliplr"}, {"type": "Flipud"}]})");
  const Pipeline sometimes = one(R"({"type": "Sometimes", "p": 0.25, "then": [{"type": "Fliplr"}], "else": [{"type": "Flipud"}]})");
  int counts[4] = {0, 0, 0, 0}, then_count = 0;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    Sample a = sample_with(im, {});
    some(a, seed);
    const int w = which(a.image);
    CHECK((w == 1 || w == 2));
    counts[w]++;
    Sample b = sample_with(im, {});
    oneof(b, seed);
    CHECK((which(b.image) == 1 || which(b.image) == 2));
    Sample c = sample_with(im, {});
    both(c, seed);
    CHECK(which(c.image) == 3);
    Sample d = sample_with(im, {});
    sometimes(d, seed);
    const int wd = which(d.image);
    CHECK((wd == 1 || wd == 2));
    then_count += wd == 1;
  }
  CHECK(counts[1] > 150);
  CHECK(counts[2] > 150);
  CHECK(then_count > 100 - 35);
  CHECK(then_count < 100 + 35);
  // random_order: Multiply(0) then a flip vs a flip then Multiply(0) give the same all-zero image,
  // so use an order-sensitive pair: Multiply(2) then LinearContrast(0) vs the reverse.
  const Pipeline ordered = one(
      R"({"type": "Sequential", "random_order": true, "children": [{"type": "Multiply", "mul": 0.5}, {"type": "LinearContrast", "alpha": 0.5}]})");
  std::set<int> outcomes;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    Sample e = sample_with(im, {});
    ordered(e, seed);
    outcomes.insert(e.image.at(0, 0)[0]);
  }
  // 200 * 0.5 = 100 -> 127 + 0.5 (100 - 127) = 113.5 -> 113; contrast first: 163.5 -> 163 -> 81.
  CHECK(outcomes == std::set<int>{81, 113});
}

TEST_CASE("config errors name the file, the augmenter and the field") {
  auto msg = [](const std::string& text) {
    try {
      parse_pipeline_text(text, "cfg.json");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string m = msg(R"({"pipeline": [{"type": "Fliplr"}, {"type": "Affine", "rotate": "ten"}]})");
  CHECK(m.find("cfg.json") != std::string::npos);
  CHECK(m.find("pipeline[1]") != std::string::npos);
  CHECK(m.find("Affine") != std::string::npos);
  CHECK(m.find("\"rotate\"") != std::string::npos);
  m = msg(R"({"pipeline": [{"type": "Sometimes", "then": [{"type": "Multiply", "mul": [1.2, 0.8]}]}]})");
  CHECK(m.find("pipeline[0].then[0]") != std::string::npos);
  CHECK(m.find("low > high") != std::string::npos);
  CHECK(msg(R"({"pipeline": [{"type": "Blur"}]})").find("unknown augmenter \"Blur\"") != std::string::npos);
  CHECK(msg(R"({"pipeline": [{"type": "Fliplr", "prob": 0.5}]})").find("\"prob\": unknown field") != std::string::npos);
  CHECK(msg(R"({"pipeline": [{"type": "Fliplr", "p": 1.5}]})").find("\"p\"") != std::string::npos);
  CHECK(msg(R"({"pipeline": [{"type": "Affine", "order": 3}]})").find("\"order\"") != std::string::npos);
  CHECK(msg(R"({"pipeline": [{"type": "Affine", "mode": "edge"}]})").find("only \"constant\"") != std::string::npos);
  CHECK(msg(R"({"pipeline": [{"type": "SomeOf", "children": []}]})").find("\"n\": missing") != std::string::npos);
  CHECK(msg(R"({"pipeline": [{"type": "Crop", "percent": 1.5}]})").find("\"percent\"") != std::string::npos);
  CHECK(msg(R"({"augmenters": []})").find("\"augmenters\"") != std::string::npos);
  CHECK(msg(R"({"pipeline": [)").find("malformed JSON") != std::string::npos);
  CHECK_THROWS_WITH_AS(load_pipeline("/nonexistent/p.json"), doctest::Contains("/nonexistent/p.json"), std::runtime_error);
}

TEST_CASE("configs/augment_study.json is the built-in study pipeline") {
  const std::string path = mrc::test::source_dir() + "/configs/augment_study.json";
  std::ifstream f(path);
  REQUIRE(f.good());
  const auto file = nlohmann::json::parse(f);
  const auto builtin = nlohmann::json::parse(study_pipeline_json());
  CHECK(file.at("pipeline") == builtin.at("pipeline"));
  CHECK_NOTHROW(load_pipeline(path));
}

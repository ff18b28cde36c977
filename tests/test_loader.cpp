// Tests of the batch loader (data/loader.h) on a small generated dataset written to a temp dir:
// shapes photos of three sizes as lossless PNG plus a VIA 2.x file, read back through load_dataset.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "data/load_dataset.h"
#include "data/loader.h"
#include "data/shapes.h"
#include "data/via.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace mrc;
using namespace mrc::data;

namespace {

struct TestSet {
  fs::path dir;
  Dataset dataset;
  std::map<std::string, Sample> originals;  // image_id -> the generated photo
};

// Seven photos of three sizes (landscape, portrait, wide), written once per process into a folder
// removed at exit.
const TestSet& test_set() {
  static const mrc::test::TempDir folder;
  static const TestSet set = [] {
    TestSet t;
    t.dir = folder.path;
    const int sizes[3][2] = {{160, 120}, {120, 160}, {200, 100}};
    Dataset ds;
    ds.format = "via2";
    ds.class_names = shapes_class_names();
    for (int i = 0; i < 7; ++i) {
      ShapesOptions o;
      o.width = sizes[i % 3][0];
      o.height = sizes[i % 3][1];
      o.min_shapes = 1;
      o.max_shapes = 4;
      o.seed = 11;
      ShapesPhoto photo = generate_shapes_photo(i, o);
      const std::string name = "photo" + std::to_string(i) + ".png";
      write_png((t.dir / name).string(), photo.sample.image);
      ImageRecord rec;
      rec.image_id = name;
      rec.path = (t.dir / name).string();
      rec.width = o.width;
      rec.height = o.height;
      rec.regions = photo.regions;
      ds.images.push_back(rec);
      photo.sample.image_id = name;
      t.originals[name] = std::move(photo.sample);
    }
    write_via((t.dir / "via.json").string(), ds, ViaWriteOptions{"class", true});
    DatasetOptions dopt;
    dopt.class_attribute = "class";
    t.dataset = load_dataset((t.dir / "via.json").string(), "", dopt);
    return t;
  }();
  return set;
}

LoaderOptions small_torchvision() {
  LoaderOptions o;
  o.batch_size = 3;
  o.workers = 2;
  o.resize = ResizeConfig::torchvision(100, 180, 32);
  return o;
}

std::vector<Batch> whole_epoch(Loader& loader, int64_t epoch) {
  loader.begin_epoch(epoch);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

// Tight box of a [h, w] uint8 mask plane, x2/y2 exclusive, computed by scanning.
Box scan_box(const uint8_t* m, int h, int w) {
  int x1 = w, y1 = h, x2 = -1, y2 = -1;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (m[size_t(y) * w + x]) {
        x1 = std::min(x1, x);
        y1 = std::min(y1, y);
        x2 = std::max(x2, x);
        y2 = std::max(y2, y);
      }
  return Box{float(x1), float(y1), float(x2 + 1), float(y2 + 1)};
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

bool same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!same_bytes(a[i].images, b[i].images) || a[i].targets.size() != b[i].targets.size()) return false;
    for (size_t k = 0; k < a[i].targets.size(); ++k) {
      const Target &s = a[i].targets[k], &t = b[i].targets[k];
      if (s.image_id != t.image_id || !same_bytes(s.boxes, t.boxes) || !same_bytes(s.labels, t.labels) ||
          !same_bytes(s.masks, t.masks))
        return false;
    }
  }
  return true;
}

std::vector<std::string> ids(const std::vector<Batch>& batches) {
  std::vector<std::string> out;
  for (const Batch& b : batches)
    for (const Target& t : b.targets) out.push_back(t.image_id);
  return out;
}

}  // namespace

TEST_CASE("loader: batch shapes and dtypes, padding to 32, normalized pixels, boxes from masks") {
  const TestSet& set = test_set();
  LoaderOptions o = small_torchvision();
  Loader loader(set.dataset, o);
  CHECK(loader.size() == 3);  // 7 photos in batches of 3: 3, 3, 1
  const std::vector<Batch> batches = whole_epoch(loader, 0);
  REQUIRE(batches.size() == 3);
  CHECK(batches[2].targets.size() == 1);
  std::vector<std::string> seen = ids(batches);
  std::sort(seen.begin(), seen.end());
  CHECK(std::unique(seen.begin(), seen.end()) == seen.end());
  CHECK(seen.size() == 7);

  const Normalization n = Normalization::torchvision();
  for (const Batch& b : batches) {
    const Tensor& im = b.images;
    REQUIRE(im.dim() == 4);
    CHECK(im.dtype() == DType::Float32);
    CHECK(im.size(0) == int64_t(b.targets.size()));
    CHECK(im.size(1) == 3);
    const int64_t H = im.size(2), W = im.size(3);
    CHECK(H % 32 == 0);
    CHECK(W % 32 == 0);
    const float* px = im.data<float>();
    int64_t max_h = 0, max_w = 0;
    for (size_t k = 0; k < b.targets.size(); ++k) {
      const Target& t = b.targets[k];
      const Sample& orig = set.originals.at(t.image_id);
      CHECK(t.original_width == orig.image.width);
      CHECK(t.original_height == orig.image.height);
      // torchvision: the shorter side goes to 100 unless the longer one would pass 180; torch
      // computes the scale in float32 (0.9f is just below 0.9: 200 * 0.9f floors to 179).
      const float s = std::min(1.0f / float(std::min(orig.image.width, orig.image.height)) * 100.0f,
                               1.0f / float(std::max(orig.image.width, orig.image.height)) * 180.0f);
      CHECK(t.scale == doctest::Approx(s).epsilon(1e-6));
      CHECK(t.window.y2 == int(std::floor(orig.image.height * double(s))));
      CHECK(t.window.x2 == int(std::floor(orig.image.width * double(s))));
      CHECK(t.height % 32 == 0);
      CHECK(t.width % 32 == 0);
      max_h = std::max<int64_t>(max_h, t.height);
      max_w = std::max<int64_t>(max_w, t.width);

      const int64_t nk = int64_t(orig.instances.size());
      REQUIRE(t.boxes.shape() == Shape{nk, 4});
      CHECK(t.boxes.dtype() == DType::Float32);
      REQUIRE(t.labels.shape() == Shape{nk});
      CHECK(t.labels.dtype() == DType::Int64);
      REQUIRE(t.masks.shape() == Shape{nk, t.height, t.width});
      CHECK(t.masks.dtype() == DType::UInt8);
      const float* boxes = t.boxes.data<float>();
      const int64_t* labels = t.labels.data<int64_t>();
      const uint8_t* masks = t.masks.data<uint8_t>();
      for (int64_t j = 0; j < nk; ++j) {
        CHECK(labels[j] == orig.instances[size_t(j)].class_id);
        const uint8_t* m = masks + j * t.height * t.width;
        CHECK(std::all_of(m, m + t.height * t.width, [](uint8_t v) { return v <= 1; }));
        const Box e = scan_box(m, t.height, t.width);
        CHECK(boxes[4 * j + 0] == e.x1);
        CHECK(boxes[4 * j + 1] == e.y1);
        CHECK(boxes[4 * j + 2] == e.x2);
        CHECK(boxes[4 * j + 3] == e.y2);
        CHECK(e.y2 <= t.window.y2);
        CHECK(e.x2 <= t.window.x2);
      }
      // Inside the photo the values denormalize to whole 0..255 pixel values; beyond it the padding is 0.
      const float* img = px + int64_t(k) * 3 * H * W;
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < H; y += 7)
          for (int x = 0; x < W; x += 5) {
            const float v = img[(c * H + y) * W + x];
            if (y < t.window.y2 && x < t.window.x2) {
              const double raw = (v * n.std[size_t(c)] + n.mean[size_t(c)]) * 255.0;
              CHECK(std::fabs(raw - std::round(raw)) < 2e-3);
              CHECK(raw > -0.5);
              CHECK(raw < 255.5);
            } else if (y >= t.height || x >= t.width) {
              CHECK(v == 0.0f);
            }
          }
    }
    CHECK(H == (max_h + 31) / 32 * 32);
    CHECK(W == (max_w + 31) / 32 * 32);
  }
  // Without a resize the first image's pixels are the photo's, normalized: check one by hand.
  LoaderOptions none = small_torchvision();
  none.resize = ResizeConfig::matterport(ResizeMode::None, 0, 0);
  none.shuffle = false;
  none.batch_size = 1;
  Loader plain(set.dataset, none);
  plain.begin_epoch(0);
  const Batch b = *plain.next();
  const Sample& orig = set.originals.at(b.targets[0].image_id);
  const Tensor& im = b.images;
  const int64_t H = im.size(2), W = im.size(3);
  CHECK(H == (orig.image.height + 31) / 32 * 32);
  for (int c = 0; c < 3; ++c) {
    const int x = 37, y = 23;
    const float want = (orig.image.at(x, y)[c] / 255.0f - n.mean[size_t(c)]) / n.std[size_t(c)];
    CHECK(im.data<float>()[(c * H + y) * W + x] == doctest::Approx(want).epsilon(1e-6));
  }
  // drop_last drops the incomplete batch.
  o.drop_last = true;
  Loader dropping(set.dataset, o);
  CHECK(dropping.size() == 2);
  CHECK(whole_epoch(dropping, 0).size() == 2);
}

TEST_CASE("loader: the same seed gives the same batches for 1 and 3 workers; epochs differ in order") {
  const TestSet& set = test_set();
  LoaderOptions o = small_torchvision();
  o.seed = 7;
  o.augmentation = aug::parse_pipeline_text(R"({"pipeline": [
      {"type": "Fliplr", "p": 0.5},
      {"type": "Affine", "rotate": [-20, 20], "scale": [0.8, 1.2]},
      {"type": "Multiply", "mul": [0.7, 1.3], "per_channel": true}]})");
  o.workers = 1;
  Loader one(set.dataset, o);
  o.workers = 3;
  o.queue_depth = 2;
  Loader three(set.dataset, o);
  const std::vector<Batch> a0 = whole_epoch(one, 0), b0 = whole_epoch(three, 0);
  CHECK(same_batches(a0, b0));
  const std::vector<Batch> b1 = whole_epoch(three, 1), a1 = whole_epoch(one, 1);
  CHECK(same_batches(a1, b1));
  CHECK(ids(a0) != ids(a1));
  CHECK(ids(a0) == [&] {
    std::vector<std::string> want;
    for (int64_t i : one.epoch_indices(0)) want.push_back(set.dataset.images[size_t(i)].image_id);
    return want;
  }());
  // Going back to epoch 0 reproduces it; a different seed does not.
  CHECK(same_batches(whole_epoch(three, 0), a0));
  o.seed = 8;
  Loader other(set.dataset, o);
  CHECK_FALSE(same_batches(whole_epoch(other, 0), a0));
  // The augmentation ran: boxes still match the masks after the affine warp.
  for (const Batch& b : a0)
    for (const Target& t : b.targets)
      for (int64_t j = 0; j < t.boxes.size(0); ++j) {
        const Box e = scan_box(t.masks.data<uint8_t>() + j * t.height * t.width, t.height, t.width);
        CHECK(t.boxes.data<float>()[4 * j] == e.x1);
        CHECK(t.boxes.data<float>()[4 * j + 3] == e.y2);
      }
  // Without shuffle the order is the dataset's.
  o.shuffle = false;
  Loader ordered(set.dataset, o);
  const std::vector<std::string> got = ids(whole_epoch(ordered, 3));
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == set.dataset.images[i].image_id);
}

TEST_CASE("loader: matterport square mode: window, scale, padding and boxes by hand") {
  const TestSet& set = test_set();
  LoaderOptions o;
  o.batch_size = 2;
  o.shuffle = false;
  o.resize = ResizeConfig::matterport(ResizeMode::Square, 64, 128);
  o.normalization = Normalization::mean_pixel();
  Loader loader(set.dataset, o);
  for (const Batch& b : whole_epoch(loader, 0)) {
    CHECK(b.images.size(2) == 128);
    CHECK(b.images.size(3) == 128);
    for (size_t k = 0; k < b.targets.size(); ++k) {
      const Target& t = b.targets[k];
      const Sample& orig = set.originals.at(t.image_id);
      const int w = orig.image.width, h = orig.image.height;
      // By hand: the long side goes to 128, the short one is scaled alike and centred.
      const double s = 128.0 / std::max(w, h);
      CHECK(t.scale == doctest::Approx(s));
      const int rw = int(std::lround(w * s)), rh = int(std::lround(h * s));
      CHECK(t.window.y1 == (128 - rh) / 2);
      CHECK(t.window.x1 == (128 - rw) / 2);
      CHECK(t.window.y2 == t.window.y1 + rh);
      CHECK(t.window.x2 == t.window.x1 + rw);
      CHECK(t.width == 128);
      CHECK(t.height == 128);
      // Boxes are those of the photo's masks resized by the plan (matterport resizes masks with
      // scipy's order-0 zoom).
      REQUIRE(t.boxes.size(0) == int64_t(orig.instances.size()));
      for (int64_t j = 0; j < t.boxes.size(0); ++j) {
        const Box want = mask_to_box(apply_resize(orig.instances[size_t(j)].mask, t.plan, MaskResample::AlignCorners));
        const float* bx = t.boxes.data<float>() + 4 * j;
        CHECK(bx[0] == want.x1);
        CHECK(bx[1] == want.y1);
        CHECK(bx[2] == want.x2);
        CHECK(bx[3] == want.y2);
      }
      CHECK(t.window.y1 + t.window.x1 > 0);  // no photo here is square
      CHECK(b.images.data<float>()[k * 3 * 128 * 128] == doctest::Approx(-123.7f));
    }
  }
}

TEST_CASE("loader: window and scale map a box back onto the original photo") {
  // Solid rectangles (no thin tips for the resampling to drop), on a 150x90 photo.
  const TestSet& set = test_set();
  Dataset ds;
  ds.source = (set.dir / "rects.json").string();
  ds.class_names = {"BG", "box"};
  ImageRecord rec;
  rec.image_id = "rects.png";
  rec.path = (set.dir / "rects.png").string();
  const float rects[3][4] = {{10, 5, 40, 30}, {70, 40, 60, 45}, {0, 0, 20, 89}};  // x, y, w, h
  for (const auto& r : rects) {
    Region reg;
    reg.kind = ShapeKind::Rect;
    reg.xs = {r[0]};
    reg.ys = {r[1]};
    reg.width = r[2];
    reg.height = r[3];
    rec.regions.push_back(reg);
  }
  ds.images.push_back(rec);
  write_png(rec.path, Image(150, 90, 3, 128));
  const Sample orig = load_sample(ds, 0);

  for (const ResizeConfig& cfg : {ResizeConfig::matterport(ResizeMode::Square, 64, 128),
                                  ResizeConfig::matterport(ResizeMode::Square, 256, 320),
                                  ResizeConfig::torchvision(64, 100, 32)}) {
    LoaderOptions o;
    o.batch_size = 1;
    o.resize = cfg;
    Loader loader(ds, o);
    loader.begin_epoch(0);
    const Batch b = *loader.next();
    const Target& t = b.targets[0];
    CHECK(t.original_width == 150);
    CHECK(t.original_height == 90);
    REQUIRE(t.boxes.size(0) == 3);
    // A resized edge lands within one output pixel of the scaled edge: 1/scale original pixels.
    const double tol = 1.0 / t.scale + 1e-3;
    for (int j = 0; j < 3; ++j) {
      const float* bx = t.boxes.data<float>() + 4 * j;
      const double back[4] = {(bx[0] - t.window.x1) / t.scale, (bx[1] - t.window.y1) / t.scale,
                              (bx[2] - t.window.x1) / t.scale, (bx[3] - t.window.y1) / t.scale};
      const Box& want = orig.instances[size_t(j)].box;
      CHECK(std::fabs(back[0] - want.x1) <= tol);
      CHECK(std::fabs(back[1] - want.y1) <= tol);
      CHECK(std::fabs(back[2] - want.x2) <= tol);
      CHECK(std::fabs(back[3] - want.y2) <= tol);
      // The plan maps back per axis (resized / original size, as torchvision's postprocess does).
      const Box via_plan = t.plan.to_original(Box{bx[0], bx[1], bx[2], bx[3]});
      const double sx = double(t.plan.resized_width) / 150, sy = double(t.plan.resized_height) / 90;
      CHECK(via_plan.x1 == doctest::Approx((bx[0] - t.window.x1) / sx).epsilon(1e-5));
      CHECK(via_plan.y2 == doctest::Approx((bx[3] - t.window.y1) / sy).epsilon(1e-5));
      CHECK(std::fabs(via_plan.y2 - want.y2) <= 1.0 / sy + 1e-3);
    }
  }
}

TEST_CASE("loader: a missing image fails with an error naming it; bad options are refused") {
  const TestSet& set = test_set();
  Dataset ds = set.dataset;
  ds.images[4].path = (set.dir / "gone.png").string();
  ds.images[4].image_id = "gone.png";
  LoaderOptions o = small_torchvision();
  o.shuffle = false;
  Loader loader(ds, o);
  loader.begin_epoch(0);
  CHECK(loader.next().has_value());  // photos 0..2
  CHECK_THROWS_WITH_AS(loader.next(), doctest::Contains("gone.png"), std::runtime_error);
  // The loader recovers with a new epoch.
  loader.begin_epoch(1);
  CHECK(loader.next().has_value());

  CHECK_THROWS_WITH_AS(Loader(set.dataset, [] {
                         LoaderOptions b;
                         b.batch_size = 0;
                         return b;
                       }()),
                       doctest::Contains("batch_size"), std::invalid_argument);
  LoaderOptions missing_config;
  missing_config.augmentation_path = (set.dir / "no_such_pipeline.json").string();
  CHECK_THROWS_WITH_AS(Loader(set.dataset, missing_config), doctest::Contains("no_such_pipeline.json"),
                       std::runtime_error);
  Loader fresh(set.dataset, LoaderOptions{});
  CHECK_THROWS_AS(fresh.next(), std::logic_error);
  CHECK_THROWS_AS(Loader(Dataset{}, LoaderOptions{}), std::runtime_error);
}

TEST_CASE("loader: class-balanced sampling, max_gt_instances, images without regions") {
  // In memory only: epoch_indices never decodes.
  Dataset ds;
  ds.source = "balance.json";
  ds.class_names = {"BG", "common", "rare"};
  for (int i = 0; i < 10; ++i) {
    ImageRecord r;
    r.image_id = "p" + std::to_string(i) + ".png";
    Region reg;
    reg.kind = ShapeKind::Rect;
    reg.width = reg.height = 4;
    reg.class_id = i == 3 ? 2 : 1;
    if (i != 9) r.regions.push_back(reg);
    ds.images.push_back(r);
  }
  LoaderOptions o;
  o.class_balanced = true;
  o.samples_per_epoch = 600;
  o.skip_images_without_regions = true;
  Loader loader(ds, o);
  CHECK(loader.samples_per_epoch() == 600);
  CHECK(loader.size() == 300);
  const std::vector<int64_t> idx = loader.epoch_indices(0);
  REQUIRE(idx.size() == 600);
  // Photo 3 holds the only "rare" instance: weight 1 against 1/8 for each of the 8 others, so it
  // is drawn half the time (binomial sd ~12 over 600 draws).
  const auto rare = std::count(idx.begin(), idx.end(), 3);
  CHECK(rare > 240);
  CHECK(rare < 360);
  CHECK(std::count(idx.begin(), idx.end(), 9) == 0);  // no regions: skipped
  CHECK(loader.epoch_indices(0) == idx);
  CHECK(loader.epoch_indices(1) != idx);

  LoaderOptions no_balance;
  no_balance.samples_per_epoch = 5;
  CHECK_THROWS_AS(Loader(ds, no_balance), std::invalid_argument);

  // At most one instance per photo, chosen among the photo's own.
  const TestSet& set = test_set();
  LoaderOptions lim = small_torchvision();
  lim.max_gt_instances = 1;
  Loader limited(set.dataset, lim);
  for (const Batch& b : whole_epoch(limited, 0))
    for (const Target& t : b.targets) {
      CHECK(t.boxes.size(0) == std::min<int64_t>(1, int64_t(set.originals.at(t.image_id).instances.size())));
      CHECK(t.masks.size(0) == t.boxes.size(0));
    }
}

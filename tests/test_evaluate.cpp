// COCO-style AP (train/evaluate.h) against pycocotools' COCOeval on the same photos, plus hand-worked cases.
#include <doctest/doctest.h>

#include <array>

#include "tensor/safetensors.h"
#include "tensor/serialize.h"
#include "test_util.h"
#include "train/evaluate.h"
#include "train/report.h"

using namespace mrc;
using namespace mrc::train;

namespace {

data::Mask mask_from(const Tensor& masks, int64_t i) {
  data::Mask m{int(masks.size(2)), int(masks.size(1))};
  const uint8_t* p = masks.data<uint8_t>() + i * masks.size(1) * masks.size(2);
  std::copy(p, p + m.pixels.size(), m.pixels.begin());
  return m;
}

std::array<float, 4> box_from(const Tensor& boxes, int64_t i) {
  const float* b = boxes.data<float>() + 4 * i;
  return {b[0], b[1], b[2], b[3]};
}

data::Mask rect_mask(int w, int h, int x0, int y0, int x1, int y1) {
  data::Mask m{w, h};
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) m.at(x, y) = 1;
  return m;
}

}  // namespace

TEST_CASE("AP equals pycocotools' COCOeval (segm and bbox, ties, unmatched classes, > 100 detections)") {
  const TensorMap t = load_tensors(test::fixture("coco_eval.safetensors"));
  const int64_t photos = t.at("photos").item<int64_t>();
  std::vector<GroundTruth> truth{size_t(photos)};
  std::vector<PhotoDetections> dets{size_t(photos)};
  for (int64_t p = 0; p < photos; ++p) {
    const std::string s = std::to_string(p);
    const Tensor gm = t.at("gt_masks_" + s), gb = t.at("gt_boxes_" + s), gl = t.at("gt_labels_" + s);
    for (int64_t i = 0; i < gl.size(0); ++i) {
      truth[size_t(p)].masks.push_back(mask_from(gm, i));
      truth[size_t(p)].boxes.push_back(box_from(gb, i));
      truth[size_t(p)].labels.push_back(gl.data<int64_t>()[i]);
    }
    const Tensor dm = t.at("dt_masks_" + s), db = t.at("dt_boxes_" + s), dl = t.at("dt_labels_" + s);
    const Tensor ds = t.at("dt_scores_" + s);
    for (int64_t i = 0; i < dl.size(0); ++i) {
      dets[size_t(p)].masks.push_back(mask_from(dm, i));
      dets[size_t(p)].boxes.push_back(box_from(db, i));
      dets[size_t(p)].labels.push_back(dl.data<int64_t>()[i]);
      dets[size_t(p)].scores.push_back(ds.data<float>()[i]);
    }
  }
  const Evaluation e = evaluate_detections(truth, dets);
  for (const auto& [kind, r] : {std::pair<std::string, ApResult>{"segm", e.mask}, {"bbox", e.box}}) {
    CAPTURE(kind);
    const Tensor stats = t.at(kind + "_stats"), per_class = t.at(kind + "_per_class");
    const std::array<double, 12> ours = {r.ap,  r.ap50, r.ap75,  r.ap_small, r.ap_medium, r.ap_large,
                                         r.ar1, r.ar10, r.ar100, r.ar_small, r.ar_medium, r.ar_large};
    REQUIRE(stats.numel() == 12);
    for (size_t i = 0; i < ours.size(); ++i) {
      CAPTURE(i);  // COCOeval.stats order
      CHECK(stats.data<double>()[i] >= 0.0);  // the fixture has every area range
      CHECK(ours[i] == doctest::Approx(stats.data<double>()[i]).epsilon(1e-12));
    }
    for (int64_t c = 1; c <= per_class.size(0); ++c) {
      const double* ref = per_class.data<double>() + 3 * (c - 1);
      CAPTURE(c);
      if (ref[0] < 0) {
        CHECK(r.ap50_per_class.count(c) == 0);  // detections but no ground truth: out of the mean
        CHECK(r.per_class.count(c) == 0);
      } else {
        REQUIRE(r.per_class.count(c) == 1);
        CHECK(r.per_class.at(c).ap == doctest::Approx(ref[0]).epsilon(1e-12));
        CHECK(r.per_class.at(c).ap50 == doctest::Approx(ref[1]).epsilon(1e-12));
        CHECK(r.per_class.at(c).ap75 == doctest::Approx(ref[2]).epsilon(1e-12));
        CHECK(r.ap50_per_class.at(c) == r.per_class.at(c).ap50);
      }
    }
  }
  CHECK(e.mask.ap != e.box.ap);  // the fixture's masks are not their boxes

  // matterport's mAP: compute_ap per photo with ground truth, as the fixture's transcription of it computes.
  const Tensor aps = t.at("matterport_aps");
  int64_t k = 0;
  for (int64_t p = 0; p < photos; ++p) {
    CAPTURE(p);
    const double ap = matterport_ap(truth[size_t(p)], dets[size_t(p)]);
    if (truth[size_t(p)].labels.empty()) {
      CHECK(ap == -1.0);
    } else {
      REQUIRE(k < aps.numel());
      CHECK(ap == doctest::Approx(aps.data<double>()[k++]).epsilon(1e-12));
    }
  }
  CHECK(k == aps.numel());
  CHECK(e.matterport_map == doctest::Approx(t.at("matterport_map").item<double>()).epsilon(1e-12));
}

TEST_CASE("matterport's AP by hand: a wrong class first, then a match, one ground truth missed") {
  GroundTruth g;
  data::Mask a{4, 1}, b{4, 1};
  a.pixels = {1, 1, 0, 0};
  b.pixels = {0, 0, 1, 1};
  g.masks = {a, b};
  g.labels = {1, 2};
  g.boxes = {{0, 0, 2, 1}, {2, 0, 4, 1}};
  PhotoDetections d;
  d.masks = {a, a};
  d.labels = {2, 1};  // the best-scoring one has the wrong class: not a match, and the next one still matches
  d.scores = {0.9f, 0.8f};
  d.boxes = {{0, 0, 2, 1}, {0, 0, 2, 1}};
  // precisions 0, 1/2; recalls 0, 1/2; envelope [0.5, 0.5, 0.5, 0]: AP = 0.5 * 0.5
  CHECK(matterport_ap(g, d) == doctest::Approx(0.25));
}

TEST_CASE("AP by hand: perfect, half found, a false positive ranked first") {
  const int w = 20, h = 10;
  GroundTruth g;
  g.masks = {rect_mask(w, h, 0, 0, 5, 5), rect_mask(w, h, 10, 0, 15, 5)};
  g.boxes = {{0, 0, 5, 5}, {10, 0, 15, 5}};
  g.labels = {1, 1};
  PhotoDetections perfect;
  perfect.masks = g.masks;
  perfect.boxes = g.boxes;
  perfect.labels = {1, 1};
  perfect.scores = {0.9f, 0.8f};
  Evaluation e = evaluate_detections({g}, {perfect});
  CHECK(e.mask.ap == doctest::Approx(1.0));
  CHECK(e.box.ap50 == doctest::Approx(1.0));

  // One of two found: precision 1 up to recall 0.5 -> 51 of the 101 recall points.
  PhotoDetections half = perfect;
  half.masks.pop_back(), half.boxes.pop_back(), half.labels.pop_back(), half.scores.pop_back();
  e = evaluate_detections({g}, {half});
  CHECK(e.mask.ap50 == doctest::Approx(51.0 / 101.0));

  // A false positive above both true ones: precision 1/2 at recall 0.5, 2/3 at recall 1, made monotone -> 2/3.
  PhotoDetections fp = perfect;
  fp.masks.push_back(rect_mask(w, h, 5, 5, 9, 9));
  fp.boxes.push_back({5, 5, 9, 9});
  fp.labels.push_back(1);
  fp.scores.push_back(0.95f);
  e = evaluate_detections({g}, {fp});
  CHECK(e.mask.ap50 == doctest::Approx(2.0 / 3.0));
  CHECK(e.ground_truth == 2);
  CHECK(e.detections == 3);

  // The right mask under the wrong class counts for nothing.
  PhotoDetections wrong = perfect;
  wrong.labels = {2, 2};
  e = evaluate_detections({g}, {wrong});
  CHECK(e.mask.ap50 == doctest::Approx(0.0));
  CHECK(e.mask.ap50_per_class.count(2) == 0);
}

TEST_CASE("evaluate_detections rejects mismatched inputs") {
  GroundTruth g;
  g.masks = {rect_mask(8, 8, 0, 0, 2, 2)};
  g.boxes = {{0, 0, 2, 2}};
  g.labels = {1};
  PhotoDetections d;
  d.masks = {rect_mask(9, 8, 0, 0, 2, 2)};
  d.boxes = {{0, 0, 2, 2}};
  d.labels = {1};
  d.scores = {1.f};
  CHECK_THROWS_WITH_AS(evaluate_detections({g}, {d}), doctest::Contains("9x8 detection mask"), std::invalid_argument);
  CHECK_THROWS_AS(evaluate_detections({g, g}, {d}), std::invalid_argument);
}

TEST_CASE("confusion matrix at mask IoU 0.5: right class, wrong class, a false detection, a miss") {
  GroundTruth g;
  data::Mask a{4, 2}, b{4, 2}, c{4, 2};
  a.pixels = {1, 1, 0, 0, 1, 1, 0, 0};
  b.pixels = {0, 0, 1, 1, 0, 0, 1, 1};
  c.pixels = {1, 0, 0, 0, 0, 0, 0, 0};  // IoU 1/4 with a: below 0.5
  g.masks = {a, b, a};
  g.labels = {1, 2, 2};
  g.boxes.resize(3);
  PhotoDetections d;
  d.masks = {a, b, c};
  d.labels = {1, 1, 2};
  d.scores = {0.9f, 0.8f, 0.7f};
  d.boxes.resize(3);
  // a (class 1) takes the first ground truth a (the higher index ties lose); b detected as class 1; c matches
  // nothing; the second a (class 2) is missed.
  const auto m = confusion_matrix({g}, {d}, 3);
  CHECK(m == std::vector<std::vector<int64_t>>{{0, 0, 1}, {0, 1, 0}, {1, 1, 0}});
  CHECK_THROWS_AS(confusion_matrix({g}, {d}, 2), std::invalid_argument);
}

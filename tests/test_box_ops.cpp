// Box operations: IoU, BoxCoder encode/decode, clip and remove_small by hand, then against torchvision
// (box_iou, BoxCoder with both weight sets, clip_boxes_to_image, remove_small_boxes) in float32/64.
#include <doctest/doctest.h>

#include <cmath>

#include "detection_test_util.h"
#include "kernels/box_ops/box_ops.h"

using namespace mrc;
using namespace mrc::kernels;
using mrc::test::expect_close;
using mrc::test::fx;

TEST_CASE("box ops by hand") {
  // IoU: [0,10]^2 vs [5,15]x[0,10]: 50 / 150; vs itself 1; vs a disjoint box 0.
  const std::vector<float> a{0, 0, 10, 10}, b{5, 0, 15, 10, 0, 0, 10, 10, 20, 20, 30, 30};
  std::vector<float> iou(3);
  box_iou_cpu(a.data(), 1, b.data(), 3, iou.data());
  CHECK(iou == std::vector<float>{50.f / 150.f, 1.f, 0.f});
  // Encode: proposal [0,0,10,20] (centre 5,10), reference [2,4,12,24] (centre 7,14, same size):
  // dx = 2/10, dy = 4/20, dw = dh = log(1) = 0; head weights scale them by 10, 10, 5, 5.
  const std::vector<double> prop{0, 0, 10, 20}, ref{2, 4, 12, 24};
  std::vector<double> d(4);
  encode_boxes_cpu(ref.data(), prop.data(), 1, BoxCoderWeights{}, d.data());
  CHECK(d == std::vector<double>{0.2, 0.2, 0.0, 0.0});
  encode_boxes_cpu(ref.data(), prop.data(), 1, BoxCoderWeights{10, 10, 5, 5}, d.data());
  CHECK(d == std::vector<double>{2.0, 2.0, 0.0, 0.0});
  // Decode inverts encode; dw = log(2) doubles the width about the centre.
  std::vector<double> back(4);
  decode_boxes_cpu(d.data(), prop.data(), 1, 1, BoxCoderWeights{10, 10, 5, 5}, back.data());
  CHECK(back == ref);
  const std::vector<double> grow{0, 0, std::log(2.0), 0};
  decode_boxes_cpu(grow.data(), prop.data(), 1, 1, BoxCoderWeights{}, back.data());
  CHECK(back[0] == doctest::Approx(-5));
  CHECK(back[2] == doctest::Approx(15));
  // dw above log(1000/16) is clamped: the width grows by at most 62.5.
  const std::vector<double> huge{0, 0, 50, 0};
  decode_boxes_cpu(huge.data(), prop.data(), 1, 1, BoxCoderWeights{}, back.data());
  CHECK(back[2] - back[0] == doctest::Approx(625.0));
  // Clip into a 100 x 120 (h x w) image; remove boxes thinner than 2.
  const std::vector<float> c{-5, 10, 130, 90, 20, -1, 50, 101};
  std::vector<float> cc(8);
  clip_boxes_cpu(c.data(), 2, 100, 120, cc.data());
  CHECK(cc == std::vector<float>{0, 10, 120, 90, 20, 0, 50, 100});
  const std::vector<float> s{0, 0, 1, 5, 0, 0, 2, 2, 0, 0, 5, 1.5f};
  std::vector<int64_t> keep(3);
  CHECK(remove_small_boxes_cpu(s.data(), 3, 2.0, keep.data()) == 1);
  CHECK(keep[0] == 1);
}

TEST_CASE("box_iou: a large matrix split across threads covers every entry once") {
  // 7 x 20000 entries (more than one parallel chunk, rows split mid-way); each entry equals the
  // pairwise formula.
  std::vector<float> a, b;
  for (int i = 0; i < 7; ++i) a.insert(a.end(), {float(i), float(2 * i), float(i + 30), float(2 * i + 25)});
  for (int j = 0; j < 20000; ++j) {
    const float x = float(j % 97), y = float(j % 61);
    b.insert(b.end(), {x, y, x + float(5 + j % 40), y + float(3 + j % 33)});
  }
  std::vector<float> out(7 * 20000, -1.f);
  box_iou_cpu(a.data(), 7, b.data(), 20000, out.data());
  size_t bad = 0;
  for (size_t i = 0; i < 7; ++i)
    for (size_t j = 0; j < 20000; ++j)
      bad += out[i * 20000 + j] != box_iou(&a[4 * i], box_area(&a[4 * i]), &b[4 * j], box_area(&b[4 * j]));
  CHECK(bad == 0);
}

TEST_CASE("box ops match torchvision") {
  const SafetensorsFile f = mrc::test::load_detection_fixture("box_ops.safetensors");
  auto run = [&](auto zero, const std::string& p) {
    using T = decltype(zero);
    CAPTURE(p);
    const double rtol = sizeof(T) == 4 ? 1e-5 : 1e-12, atol = sizeof(T) == 4 ? 1e-5 : 1e-12;
    const std::vector<T> ia = fx<T>(f, p + "iou_a"), ib = fx<T>(f, p + "iou_b");
    std::vector<T> iou(ia.size() / 4 * ib.size() / 4);
    box_iou_cpu(ia.data(), int64_t(ia.size() / 4), ib.data(), int64_t(ib.size() / 4), iou.data());
    expect_close(iou, fx<T>(f, p + "iou"), 0, 0, p + "iou");  // same arithmetic: bit-identical
    const std::vector<T> ref = fx<T>(f, p + "ref"), prop = fx<T>(f, p + "prop");
    const int64_t n = int64_t(ref.size() / 4);
    for (const auto& [wname, w] : {std::pair{std::string("rpn"), BoxCoderWeights{1, 1, 1, 1}},
                                   std::pair{std::string("head"), BoxCoderWeights{10, 10, 5, 5}}}) {
      std::vector<T> enc(ref.size());
      encode_boxes_cpu(ref.data(), prop.data(), n, w, enc.data());
      expect_close(enc, fx<T>(f, p + wname + ".encoded"), atol, rtol, p + wname + ".encoded");
      const std::vector<T> deltas = fx<T>(f, p + wname + ".deltas");
      const int64_t k = int64_t(deltas.size()) / (4 * n);
      std::vector<T> dec(deltas.size());
      decode_boxes_cpu(deltas.data(), prop.data(), n, k, w, dec.data());
      expect_close(dec, fx<T>(f, p + wname + ".decoded"), atol, rtol, p + wname + ".decoded");
    }
    const std::vector<T> cin = fx<T>(f, p + "clip_in");
    std::vector<T> cl(cin.size());
    clip_boxes_cpu(cin.data(), int64_t(cin.size() / 4), 100, 120, cl.data());
    CHECK(cl == fx<T>(f, p + "clipped"));
    const std::vector<T> sin = fx<T>(f, p + "small_in");
    std::vector<int64_t> keep(sin.size() / 4);
    for (const auto& [tag, ms] : {std::pair{std::string("1e-3"), 1e-3}, std::pair{std::string("3"), 3.0}}) {
      keep.resize(sin.size() / 4);
      keep.resize(size_t(remove_small_boxes_cpu(sin.data(), int64_t(sin.size() / 4), ms, keep.data())));
      CHECK(keep == fx<int64_t>(f, p + "small_keep_" + tag));
    }
  };
  run(0.f, "f32.");
  run(0.0, "f64.");
}

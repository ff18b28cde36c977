// NMS and batched NMS: hand-placed boxes, then keep lists identical to torchvision's (order included)
// on random boxes with distinct, tied and equal scores, both batched code paths, float64, 100k boxes.
#include <doctest/doctest.h>

#include "detection_test_util.h"
#include "kernels/nms/nms.h"

using namespace mrc;
using namespace mrc::kernels;
using mrc::test::fx;

namespace {

template <class T = float>
std::vector<int64_t> run_nms(const std::vector<T>& boxes, const std::vector<T>& scores, double thr) {
  std::vector<int64_t> keep(scores.size(), -1);
  keep.resize(size_t(nms_cpu(boxes.data(), scores.data(), int64_t(scores.size()), thr, keep.data())));
  return keep;
}

}  // namespace

TEST_CASE("nms: hand-placed boxes") {
  // 10 x 10 boxes at x = 0, 1 and 7, and one far away. IoU(0,1) = 90/110 = 0.82, IoU(1,2) = 40/160 =
  // 0.25 exactly, IoU(0,2) = 30/170 = 0.18.
  const std::vector<float> boxes{0, 0, 10, 10, 1, 0, 11, 10, 7, 0, 17, 10, 50, 50, 60, 60};
  const std::vector<float> scores{0.8f, 0.9f, 0.7f, 0.1f};
  // Box 1 scores best and suppresses box 0; box 2 survives (0.25 <= 0.5).
  CHECK(run_nms(boxes, scores, 0.5) == std::vector<int64_t>{1, 2, 3});
  // A high threshold keeps everything, by score.
  CHECK(run_nms(boxes, scores, 0.9) == std::vector<int64_t>{1, 0, 2, 3});
  // IoU must be strictly greater than the threshold: 0.25 stays at 0.25 and goes at 0.2.
  CHECK(run_nms(boxes, scores, 0.25) == std::vector<int64_t>{1, 2, 3});
  CHECK(run_nms(boxes, scores, 0.2) == std::vector<int64_t>{1, 3});
  // A suppressed box suppresses nothing: with box 0 first, box 1 goes (0.82) and box 2 stays at
  // threshold 0.2, since only box 1 overlaps it by more than that.
  CHECK(run_nms(boxes, {0.9f, 0.8f, 0.7f, 0.1f}, 0.2) == std::vector<int64_t>{0, 2, 3});
  // The IoU is a float compared with a double threshold: 50/150 rounds up to 0.33333334f, which is
  // above 1/3 as a double (a float comparison would call it equal and keep the box).
  const std::vector<float> third{0, 0, 10, 10, 5, 0, 15, 10};
  CHECK(run_nms(third, {0.9f, 0.8f}, 1.0 / 3.0) == std::vector<int64_t>{0});
  CHECK(run_nms(third, {0.9f, 0.8f}, 0.33333335) == std::vector<int64_t>{0, 1});
  // Identical boxes: IoU 1, only the best survives. Zero-area boxes have IoU 0/0 = NaN: never dropped.
  const std::vector<float> same{0, 0, 4, 4, 0, 0, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2};
  CHECK(run_nms(same, {0.1f, 0.2f, 0.3f, 0.4f}, 0.5) == std::vector<int64_t>{3, 2, 1});
  // A single box, and no boxes.
  CHECK(run_nms(std::vector<float>{1, 2, 3, 4}, std::vector<float>{0.5f}, 0.5) == std::vector<int64_t>{0});
  CHECK(run_nms(std::vector<float>{}, std::vector<float>{}, 0.5).empty());
  CHECK_THROWS_AS(nms_cpu<float>(nullptr, nullptr, -1, 0.5, nullptr), std::runtime_error);
}

TEST_CASE("nms: equal scores are visited in index order") {
  // 40 disjoint boxes with equal scores: all kept, in index order. Then 40 copies of one box: the
  // first index wins.
  std::vector<float> boxes, copies, scores(40, 1.f);
  for (int i = 0; i < 40; ++i) {
    boxes.insert(boxes.end(), {float(20 * i), 0.f, float(20 * i + 10), 10.f});
    copies.insert(copies.end(), {3.f, 4.f, 9.f, 12.f});
  }
  const std::vector<int64_t> all = run_nms(boxes, scores, 0.5);
  REQUIRE(all.size() == 40);
  for (int64_t i = 0; i < 40; ++i) CHECK(all[size_t(i)] == i);
  CHECK(run_nms(copies, scores, 0.5) == std::vector<int64_t>{0});
}

TEST_CASE("nms and batched_nms: identical keep lists to torchvision") {
  const SafetensorsFile f = mrc::test::load_detection_fixture("nms.safetensors");
  mrc::test::for_each_fixture_case(f, 11, [&](int, const std::string& p) {
    const double thr = fx<double>(f, p + "threshold")[0];
    const std::vector<int64_t> want = fx<int64_t>(f, p + "keep");
    const bool batched = f.contains(p + "idxs");
    CAPTURE(batched);
    mrc::test::with_entry_type(f, p + "boxes", [&](auto zero) {
      using T = decltype(zero);
      const std::vector<T> b = fx<T>(f, p + "boxes"), s = fx<T>(f, p + "scores");
      const int64_t n = int64_t(s.size());
      CAPTURE(n);
      std::vector<int64_t> keep(s.size());
      int64_t k;
      if (batched) {
        const std::vector<int64_t> idxs = fx<int64_t>(f, p + "idxs");
        k = batched_nms_cpu(b.data(), s.data(), idxs.data(), n, thr, keep.data());
      } else {
        k = nms_cpu(b.data(), s.data(), n, thr, keep.data());
      }
      keep.resize(size_t(k));
      CHECK(keep == want);
    });
  });
}

TEST_CASE("batched_nms: categories never suppress each other") {
  // Two identical boxes in different categories both survive; in the same category one goes.
  const std::vector<float> boxes{0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10};
  const std::vector<float> scores{0.9f, 0.8f, 0.7f};
  std::vector<int64_t> keep(3);
  const std::vector<int64_t> cats{0, 1, 0};
  keep.resize(size_t(batched_nms_cpu(boxes.data(), scores.data(), cats.data(), 3, 0.5, keep.data())));
  CHECK(keep == std::vector<int64_t>{0, 1});
  // The per-category path (> 1000 boxes): 1001 copies of one box over 7 categories keep one per category.
  std::vector<float> many, ms;
  std::vector<int64_t> mc;
  for (int i = 0; i < 1001; ++i) {
    many.insert(many.end(), {5, 5, 20, 30});
    ms.push_back(float(i) / 1001.f);
    mc.push_back(i % 7);
  }
  keep.assign(1001, -1);
  keep.resize(size_t(batched_nms_cpu(many.data(), ms.data(), mc.data(), 1001, 0.5, keep.data())));
  CHECK(keep == std::vector<int64_t>{1000, 999, 998, 997, 996, 995, 994});
  CHECK(batched_nms_cpu<float>(nullptr, nullptr, nullptr, 0, 0.5, nullptr) == 0);
}

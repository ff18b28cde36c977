// Prefetcher: results in order whatever the worker count, the bounded window, exceptions at their
// position, early destruction; epoch orders; weighted and class-balanced sampling.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <stdexcept>
#include <thread>

#include "data/prefetch.h"
#include "test_util.h"

using namespace mrc::data;

TEST_CASE("results come in order for 1..4 workers") {
  const auto order = epoch_order(50, 9, 1);
  for (int workers = 1; workers <= 4; ++workers) {
    Prefetcher<int64_t> pf(order, [](int64_t idx, int64_t) {
      std::this_thread::sleep_for(std::chrono::microseconds((idx * 37) % 200));   // uneven work
      return idx * idx;
    }, workers, 3);
    int64_t v, pos = 0;
    while (pf.next(v)) {
      CHECK(v == order[size_t(pos)] * order[size_t(pos)]);
      ++pos;
    }
    CHECK(pos == 50);
    CHECK(pf.max_outstanding() <= 3);
    CHECK_FALSE(pf.next(v));
  }
}

TEST_CASE("the window bounds the work done ahead of a slow consumer") {
  std::atomic<int> started{0};
  Prefetcher<int> pf(epoch_order(100, 0, 0, false), [&](int64_t i, int64_t) {
    ++started;
    return int(i);
  }, 4, 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(started.load() == 5);   // nothing taken yet: exactly the window
  int v;
  REQUIRE(pf.next(v));
  CHECK(v == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(started.load() == 6);
}

TEST_CASE("a worker's exception comes out at its position; early destruction does not hang") {
  Prefetcher<int> pf(epoch_order(10, 0, 0, false), [](int64_t i, int64_t) {
    if (i == 4) throw std::runtime_error("bad item 4");
    return int(i);
  }, 3, 4);
  int v;
  for (int i = 0; i < 4; ++i) {
    REQUIRE(pf.next(v));
    CHECK(v == i);
  }
  CHECK_THROWS_WITH_AS(pf.next(v), "bad item 4", std::runtime_error);
  REQUIRE(pf.next(v));
  CHECK(v == 5);
  {
    Prefetcher<int> early(epoch_order(1000, 0, 0), [](int64_t i, int64_t) { return int(i); }, 4, 8);
    REQUIRE(early.next(v));
  }   // destroyed with most items never taken
}

TEST_CASE("epoch orders are seeded permutations, different per epoch") {
  const auto a = epoch_order(100, 1, 0), b = epoch_order(100, 1, 0), c = epoch_order(100, 1, 1);
  CHECK(a == b);
  CHECK(a != c);
  auto s = a;
  std::sort(s.begin(), s.end());
  for (int64_t i = 0; i < 100; ++i) CHECK(s[size_t(i)] == i);
  CHECK(epoch_order(5, 1, 0, false) == std::vector<int64_t>{0, 1, 2, 3, 4});
}

TEST_CASE("weighted sampling follows the weights") {
  const std::vector<double> w = {1, 0, 3, 6};
  const auto draws = weighted_epoch_order(w, 20000, 4, 0);
  std::map<int64_t, int> n;
  for (auto d : draws) ++n[d];
  CHECK(n[1] == 0);
  CHECK(double(n[0]) / 20000 == doctest::Approx(0.1).epsilon(0.1));
  CHECK(double(n[2]) / 20000 == doctest::Approx(0.3).epsilon(0.05));
  CHECK(double(n[3]) / 20000 == doctest::Approx(0.6).epsilon(0.05));
  CHECK(weighted_epoch_order(w, 100, 4, 0) == weighted_epoch_order(w, 100, 4, 0));
  CHECK_THROWS_AS(weighted_epoch_order({0, 0}, 3, 0, 0), std::invalid_argument);
  CHECK_THROWS_AS(weighted_epoch_order({1, -1}, 3, 0, 0), std::invalid_argument);
}

TEST_CASE("class-balanced weights make each class equally likely") {
  // Class 1 in 6 items, class 2 in 2 items (one shared), class 3 in 1 item.
  const std::vector<std::vector<int>> cls = {{1}, {1}, {1}, {1}, {1, 2}, {1}, {2}, {3}, {}};
  const auto w = class_balanced_weights(cls);
  CHECK(w[0] == doctest::Approx(1.0 / 6));
  CHECK(w[4] == doctest::Approx(1.0 / 2));   // its rarest class decides
  CHECK(w[7] == doctest::Approx(1.0));
  CHECK(w[8] == doctest::Approx(1.0 / 6));   // no instances: the smallest weight
  // Weights sum to 5/6 + 1/2 + 1/2 + 1 + 1/6 = 3, so per draw class 3 shows with probability 1/3,
  // class 2 with (1/2 + 1/2) / 3 = 1/3 and class 1 with (5/6 + 1/2) / 3 = 4/9 (it was in 6 of 9).
  const auto draws = weighted_epoch_order(w, 30000, 1, 0);
  std::map<int, int> seen;
  for (auto d : draws)
    for (int c : cls[size_t(d)]) ++seen[c];
  CHECK(seen[3] / 30000.0 == doctest::Approx(1.0 / 3).epsilon(0.05));
  CHECK(seen[2] / 30000.0 == doctest::Approx(1.0 / 3).epsilon(0.05));
  CHECK(seen[1] / 30000.0 == doctest::Approx(4.0 / 9).epsilon(0.05));
}

// Matcher and balanced sampler: a hand-made quality matrix, then torchvision's Matcher (both detector
// configurations) on random IoUs and on tie-heavy matrices with values at the thresholds, and
// BalancedPositiveNegativeSampler replayed with the permutations torch drew.
#include <doctest/doctest.h>

#include "detection_test_util.h"
#include "kernels/box_ops/box_ops.h"

using namespace mrc;
using namespace mrc::kernels;
using mrc::test::fx;

TEST_CASE("matcher by hand") {
  // 2 gts x 4 predictions. Prediction 0: best 0.8 (gt 1) -> matched. 1: 0.35 -> between. 2: 0.1 ->
  // below. 3: 0.4 (gt 0) -> between, but it is gt 0's best match, so low-quality matching restores it.
  const std::vector<float> q{0.2f, 0.35f, 0.1f, 0.4f,  //
                             0.8f, 0.3f, 0.0f, 0.2f};
  std::vector<int64_t> m(4);
  match_cpu(q.data(), 2, 4, MatcherParams{0.7, 0.3, false}, m.data());
  CHECK(m == std::vector<int64_t>{1, kBetweenThresholds, kBelowLowThreshold, kBetweenThresholds});
  match_cpu(q.data(), 2, 4, MatcherParams{0.7, 0.3, true}, m.data());
  CHECK(m == std::vector<int64_t>{1, kBetweenThresholds, kBelowLowThreshold, 0});
  // Ties: the first gt wins; a gt's best shared by two predictions restores both.
  const std::vector<float> t{0.1f, 0.1f, 0.05f,  //
                             0.1f, 0.0f, 0.05f};
  std::vector<int64_t> mt(3);
  match_cpu(t.data(), 2, 3, MatcherParams{0.7, 0.3, true}, mt.data());
  CHECK(mt == std::vector<int64_t>{0, 0, kBelowLowThreshold});
  CHECK_THROWS_WITH_AS(match_cpu<float>(nullptr, 0, 4, MatcherParams{}, m.data()),
                       doctest::Contains("No ground-truth boxes"), std::runtime_error);
  CHECK_THROWS_WITH_AS(match_cpu<float>(q.data(), 2, 0, MatcherParams{}, m.data()),
                       doctest::Contains("No proposal boxes"), std::runtime_error);
  CHECK_THROWS_AS(match_cpu(q.data(), 2, 4, MatcherParams{0.3, 0.7, true}, m.data()), std::runtime_error);
}

TEST_CASE("matcher matches torchvision") {
  const SafetensorsFile f = mrc::test::load_detection_fixture("matcher.safetensors");
  const int count = std::stoi(f.metadata.at("quality"));
  for (int i = 0; i < count; ++i) {
    const std::string p = mrc::test::case_key("q", i, "");
    const auto& e = f.at(p);
    const std::vector<float> q = e.as<float>();
    const int64_t m = e.shape[0], n = e.shape[1];
    for (const auto& [name, params] : {std::pair{std::string("rpn"), MatcherParams{0.7, 0.3, true}},
                                       std::pair{std::string("head"), MatcherParams{0.5, 0.5, false}}}) {
      CAPTURE(p);
      CAPTURE(name);
      std::vector<int64_t> got(static_cast<size_t>(n));
      match_cpu(q.data(), m, n, params, got.data());
      CHECK(got == fx<int64_t>(f, p + "." + name));
    }
  }
}

TEST_CASE("balanced sampler replays torchvision's draws") {
  const SafetensorsFile f = mrc::test::load_detection_fixture("matcher.safetensors");
  const int count = std::stoi(f.metadata.at("sampler"));
  for (int i = 0; i < count; ++i) {
    CAPTURE(i);
    const std::string p = mrc::test::case_key("s", i);
    const std::vector<int64_t> labels = fx<int64_t>(f, p + "labels");
    const std::vector<double> prm = fx<double>(f, p + "params");
    std::vector<std::vector<int64_t>> draws{fx<int64_t>(f, p + "perm_pos"), fx<int64_t>(f, p + "perm_neg")};
    size_t call = 0;
    RandpermFn randperm = [&](int64_t k) {
      REQUIRE(call < 2);
      CHECK(k == int64_t(draws[call].size()));  // asked for the same sizes, in the same order
      return draws[call++];
    };
    const int64_t n = int64_t(labels.size());
    std::vector<uint8_t> pos(labels.size()), neg(labels.size());
    const SampleCounts c = balanced_sample(labels.data(), n, int64_t(prm[0]), prm[1], randperm, pos.data(), neg.data());
    CHECK(call == 2);
    CHECK(pos == fx<uint8_t>(f, p + "pos"));
    CHECK(neg == fx<uint8_t>(f, p + "neg"));
    int64_t np = 0, nn = 0;
    for (size_t j = 0; j < labels.size(); ++j) {
      np += pos[j];
      nn += neg[j];
      if (pos[j]) CHECK(labels[j] >= 1);
      if (neg[j]) CHECK(labels[j] == 0);
    }
    CHECK(c.positives == np);
    CHECK(c.negatives == nn);
    CHECK(np <= int64_t(prm[0] * prm[1]));
  }
  // A permutation of the wrong size is reported.
  const std::vector<int64_t> labels{1, 0, 0};
  std::vector<uint8_t> pos(3), neg(3);
  CHECK_THROWS_WITH_AS(balanced_sample(labels.data(), 3, 2, 0.5, [](int64_t) { return std::vector<int64_t>{0, 1}; },
                                       pos.data(), neg.data()),
                       doctest::Contains("randperm(1) for the positives returned 2 values"), std::runtime_error);
}

// Matcher and balanced sampler: a hand-made quality matrix, then torchvision's Matcher (both detector
// configurations) on random IoUs and on tie-heavy matrices with values at the thresholds, and
// BalancedPositiveNegativeSampler replayed with the permutations torch drew.
#include <doctest/doctest.h>

#include "detection_test_util.h"
#include <cmath>

#include "kernels/box_ops/box_ops.h"
#include "kernels/box_ops/box_ops_op.h"
#include "tensor/host_sync.h"

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

namespace {

// Labels of n candidates: `pos` positives, `ign` ignored (-1), the rest negatives, spread by a fixed shuffle.
mrc::Tensor shuffled_labels(int64_t n, int64_t pos, int64_t ign, uint64_t seed) {
  std::vector<int64_t> l(size_t(n), 0);
  for (int64_t i = 0; i < pos; ++i) l[size_t(i)] = 1 + i % 3;
  for (int64_t i = pos; i < pos + ign; ++i) l[size_t(i)] = -1;
  mrc::Generator g(seed);
  const std::vector<int64_t> perm = g.randperm(n);
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[size_t(perm[size_t(i)])] = l[size_t(i)];
  return mrc::Tensor::from_vector(out, {n});
}

}  // namespace

TEST_CASE("device sampler: a valid balanced sample (counts, ratio, only eligible candidates), no host read") {
  struct Case {
    int64_t n, pos, ign, batch;
    double fraction;
  };
  // positives above and below the quota, too few negatives to fill the batch, nothing eligible, a batch
  // larger than the candidates, 261k anchors with ties among the float32 keys (the RPN at 1024x1024)
  const std::vector<Case> cases = {{100, 40, 10, 32, 0.25},  {100, 3, 10, 32, 0.25},   {50, 45, 0, 64, 0.5},
                                   {20, 0, 20, 8, 0.5},      {10, 4, 2, 512, 0.25},    {1, 1, 0, 1, 1.0},
                                   {0, 0, 0, 256, 0.5},      {261888, 30, 5000, 256, 0.5}};
  for (const Case& c : cases) {
    CAPTURE(c.n);
    CAPTURE(c.pos);
    CAPTURE(c.batch);
    const mrc::Tensor labels = shuffled_labels(c.n, c.pos, c.ign, uint64_t(c.n + c.pos));
    const std::vector<int64_t> l = labels.to_vector<int64_t>();
    mrc::Generator gen(7);
    mrc::HostSyncScope reads;
    const mrc::SampledMasks s = mrc::balanced_sample_device(labels, c.batch, c.fraction, gen);
    CHECK(reads.count() == 0);
    REQUIRE(s.positive.numel() == c.n);
    REQUIRE(s.negative.numel() == c.n);
    CHECK(s.positive.dtype() == mrc::DType::UInt8);
    const std::vector<uint8_t> p = s.positive.to_vector<uint8_t>(), q = s.negative.to_vector<uint8_t>();
    int64_t np = 0, nq = 0, ineligible = 0;
    for (size_t j = 0; j < l.size(); ++j) {
      np += p[j];
      nq += q[j];
      ineligible += (p[j] && l[j] < 1) + (q[j] && l[j] != 0);  // a positive not >= 1, a negative not 0
    }
    CHECK(ineligible == 0);
    const int64_t quota = int64_t(double(c.batch) * c.fraction), negatives = c.n - c.pos - c.ign;
    CHECK(np == std::min(c.pos, quota));
    CHECK(nq == std::min(negatives, c.batch - np));
    // the same Generator state draws the same sample
    mrc::Generator again(7);
    const mrc::SampledMasks t = mrc::balanced_sample_device(labels, c.batch, c.fraction, again);
    CHECK(t.positive.to_vector<uint8_t>() == p);
    CHECK(t.negative.to_vector<uint8_t>() == q);
  }
  mrc::Generator gen_for_errors(1);
  CHECK_THROWS_WITH_AS(mrc::balanced_sample_device(mrc::Tensor::zeros({2, 2}, mrc::DType::Int64), 4, 0.5, gen_for_errors),
                       doctest::Contains("labels must be 1-D"), std::invalid_argument);
}

TEST_CASE("device sampler: every eligible candidate is equally likely (2000 draws)") {
  // 20 positives for a quota of 5 (p = 1/4), 60 negatives for the remaining 11 (p = 11/60): each
  // candidate's count over 2000 draws stays within 5 standard deviations of its binomial mean
  const mrc::Tensor labels = shuffled_labels(90, 20, 10, 3);
  const std::vector<int64_t> l = labels.to_vector<int64_t>();
  std::vector<int64_t> hits(l.size(), 0);
  mrc::Generator gen(11);
  const int draws = 2000;
  for (int d = 0; d < draws; ++d) {
    const mrc::SampledMasks s = mrc::balanced_sample_device(labels, 16, 0.3125, gen);
    const std::vector<uint8_t> p = s.positive.to_vector<uint8_t>(), q = s.negative.to_vector<uint8_t>();
    for (size_t j = 0; j < l.size(); ++j) hits[j] += p[j] + q[j];
  }
  for (size_t j = 0; j < l.size(); ++j) {
    CAPTURE(j);
    CAPTURE(l[j]);
    const double prob = l[j] >= 1 ? 5.0 / 20 : (l[j] == 0 ? 11.0 / 60 : 0.0);
    const double mean = draws * prob, sd = std::sqrt(draws * prob * (1 - prob));
    CHECK(std::fabs(double(hits[j]) - mean) <= 5 * sd);
  }
}

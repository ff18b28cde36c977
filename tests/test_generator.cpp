// Generator: reproducibility, state round-trip, and the distributions of rand / randn / randint /
// randperm checked as a statistician would: mean, variance and a goodness-of-fit statistic
// (Kolmogorov–Smirnov for the continuous ones, chi-square for the discrete ones), each at
// significance 0.001, for several seeds. The same checks are shown to reject slightly wrong
// distributions, so they cannot pass by accident.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/ops.h"

using namespace mrc;

namespace {

// Critical values at significance 0.001 (two-sided for z and KS; upper tail for chi-square), computed
// with torch.special.gammainc / Normal.icdf and the asymptotic Kolmogorov law sqrt(-ln(alpha / 2) / 2).
constexpr double kZ = 3.2905;
constexpr double kKs = 1.9495;
double chi2_critical(int df) {
  switch (df) {
    case 2: return 13.8155;
    case 9: return 27.8772;
    case 23: return 49.7282;
  }
  FAIL("no chi-square critical value for df " << df);
  return 0;
}

constexpr int64_t kN = 20000;
const uint64_t kSeeds[] = {7, 8, 0x5eed, 20261203};

struct Moments {
  double mean, var;
};
Moments moments(const std::vector<double>& x) {
  const double n = double(x.size());
  const double m = std::accumulate(x.begin(), x.end(), 0.0) / n;
  double ss = 0;
  for (double v : x) ss += (v - m) * (v - m);
  return {m, ss / (n - 1)};
}

// z of the sample mean and of the sample variance, against a law with mean mu, variance var and
// fourth central moment mu4 (var of the sample variance ~ (mu4 - var^2) / n).
double mean_z(const std::vector<double>& x, double mu, double var) {
  return (moments(x).mean - mu) / std::sqrt(var / double(x.size()));
}
double var_z(const std::vector<double>& x, double var, double mu4) {
  return (moments(x).var - var) / std::sqrt((mu4 - var * var) / double(x.size()));
}

// sqrt(n) * sup |F_n - F|, the Kolmogorov–Smirnov statistic scaled to its asymptotic law.
template <class Cdf>
double ks_statistic(std::vector<double> x, Cdf cdf) {
  std::sort(x.begin(), x.end());
  const double n = double(x.size());
  double d = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double f = cdf(x[i]);
    d = std::max({d, double(i + 1) / n - f, f - double(i) / n});
  }
  return d * std::sqrt(n);
}
double uniform_cdf(double x) { return std::clamp(x, 0.0, 1.0); }
double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Pearson's chi-square of integer draws in [low, high) against the uniform law on them.
double chi_square(const std::vector<int64_t>& x, int64_t low, int64_t high) {
  std::vector<double> count(size_t(high - low), 0);
  int64_t outside = 0;
  for (int64_t v : x) {
    if (v < low || v >= high)
      ++outside;
    else
      count[size_t(v - low)] += 1;
  }
  CHECK_MESSAGE(outside == 0, outside << " draws outside [" << low << ", " << high << ")");
  const double expected = double(x.size()) / double(count.size());
  double c2 = 0;
  for (double c : count) c2 += (c - expected) * (c - expected) / expected;
  return c2;
}

// Lag-1 serial correlation times sqrt(n): ~N(0, 1) for independent draws.
double serial_z(const std::vector<double>& x) {
  const Moments mo = moments(x);
  double c = 0;
  for (size_t i = 1; i < x.size(); ++i) c += (x[i] - mo.mean) * (x[i - 1] - mo.mean);
  return c / (double(x.size() - 1) * mo.var) * std::sqrt(double(x.size()));
}

struct Verdict {
  double mean_z, var_z, ks, serial_z;
  bool pass() const { return std::abs(mean_z) < kZ && std::abs(var_z) < kZ && ks < kKs && std::abs(serial_z) < kZ; }
};
Verdict judge_uniform(const std::vector<double>& u) {
  return {mean_z(u, 0.5, 1.0 / 12), var_z(u, 1.0 / 12, 1.0 / 80), ks_statistic(u, uniform_cdf), serial_z(u)};
}
Verdict judge_normal(const std::vector<double>& z) {
  return {mean_z(z, 0, 1), var_z(z, 1, 3), ks_statistic(z, normal_cdf), serial_z(z)};
}

std::vector<double> as_doubles(const Tensor& t) { return t.to(DType::Float64).to_vector<double>(); }

void check_passes(const Verdict& v) {
  CAPTURE(v.mean_z);
  CAPTURE(v.var_z);
  CAPTURE(v.ks);
  CAPTURE(v.serial_z);
  CHECK(v.pass());
}

}  // namespace

TEST_CASE("generator: same seed, same numbers; state round-trip") {
  Generator g1(7), g2(7), g3(8);
  Tensor a = Tensor::randn({100}, &g1), b = Tensor::randn({100}, &g2), c = Tensor::randn({100}, &g3);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  CHECK(a.to_vector<float>() != c.to_vector<float>());
  auto p = Tensor::randperm(50, &g1).to_vector<int64_t>();
  std::sort(p.begin(), p.end());
  for (int64_t i = 0; i < 50; ++i) CHECK(p[size_t(i)] == i);
  Generator g4(1);
  g4.uniform();
  g4.normal();  // leaves a spare normal in the state
  const std::string st = g4.state();
  const double next = g4.normal(), after = g4.uniform();
  Generator g5;
  g5.set_state(st);
  CHECK(g5.normal() == next);
  CHECK(g5.uniform() == after);
  CHECK_THROWS_WITH(g5.set_state("not a state"), doctest::Contains("malformed state"));
  CHECK_THROWS_WITH(g5.randint(3, 3), doctest::Contains("empty range [3, 3)"));
}

TEST_CASE("rand: uniform on [0, 1) by mean, variance, KS and serial correlation") {
  for (uint64_t seed : kSeeds) {
    for (DType dt : {DType::Float32, DType::Float64}) {
      CAPTURE(seed);
      CAPTURE(dtype_name(dt));
      Generator g(seed);
      const std::vector<double> u = as_doubles(Tensor::rand({kN}, &g, dt));
      CHECK(*std::min_element(u.begin(), u.end()) >= 0.0);
      CHECK(*std::max_element(u.begin(), u.end()) < 1.0);
      check_passes(judge_uniform(u));
    }
    // uniform(lo, hi) is the same law moved and stretched
    Generator g(seed);
    std::vector<double> w = as_doubles(Tensor::uniform({kN}, -3.0, 5.0, &g, DType::Float64));
    for (double& x : w) x = (x + 3.0) / 8.0;
    check_passes(judge_uniform(w));
  }
}

TEST_CASE("rand float32 stays below 1") {
  // Draw 517518 of seed 1 is 0.99999998993..., which rounds to 1.0f as a float.
  Generator g(1);
  const std::vector<float> u = Tensor::rand({517519}, &g, DType::Float32).to_vector<float>();
  CHECK(u.back() == std::nextafter(1.0f, 0.0f));
  CHECK(*std::max_element(u.begin(), u.end()) < 1.0f);
  Generator g64(1);
  CHECK(Tensor::rand({517519}, &g64, DType::Float64).to_vector<double>().back() == doctest::Approx(0.9999999899359634).epsilon(1e-15));
}

TEST_CASE("randn: standard normal by mean, variance, KS and serial correlation") {
  for (uint64_t seed : kSeeds) {
    for (DType dt : {DType::Float32, DType::Float64}) {
      CAPTURE(seed);
      CAPTURE(dtype_name(dt));
      Generator g(seed);
      check_passes(judge_normal(as_doubles(Tensor::randn({kN}, &g, dt))));
    }
    Generator g(seed);
    std::vector<double> z = as_doubles(Tensor::normal({kN}, 2.0, 0.5, &g, DType::Float64));
    for (double& x : z) x = (x - 2.0) / 0.5;
    check_passes(judge_normal(z));
  }
}

TEST_CASE("randint and randperm: uniform over their values by chi-square") {
  for (uint64_t seed : kSeeds) {
    CAPTURE(seed);
    Generator g(seed);
    const std::vector<int64_t> d10 = Tensor::randint(-3, 7, {kN}, &g).to_vector<int64_t>();
    CHECK(chi_square(d10, -3, 7) < chi2_critical(9));
    const std::vector<int64_t> d3 = Tensor::randint(0, 3, {kN}, &g).to_vector<int64_t>();  // not a power of two
    CHECK(chi_square(d3, 0, 3) < chi2_critical(2));
    // a range near 2^62: the top and bottom thirds must be equally likely (rejection sampling, no modulo bias)
    const int64_t big = (int64_t(1) << 62) + (int64_t(1) << 61);
    std::vector<int64_t> thirds;
    for (int64_t i = 0; i < kN; ++i) thirds.push_back(g.randint(0, big) / (big / 3));
    CHECK(chi_square(thirds, 0, 3) < chi2_critical(2));
    // randperm(4): all 24 orders equally likely
    std::vector<int64_t> order_ids;
    for (int i = 0; i < 24 * 500; ++i) {
      const std::vector<int64_t> p = g.randperm(4);
      int64_t id = 0;  // Lehmer code of p
      for (size_t k = 0; k < 4; ++k) {
        int64_t smaller_after = 0;
        for (size_t j = k + 1; j < 4; ++j) smaller_after += p[j] < p[k];
        id = id * int64_t(4 - k) + smaller_after;
      }
      order_ids.push_back(id);
    }
    CHECK(chi_square(order_ids, 0, 24) < chi2_critical(23));
  }
}

TEST_CASE("the distribution checks reject slightly wrong laws") {
  Generator g(7);
  const std::vector<double> u = as_doubles(Tensor::rand({kN}, &g, DType::Float64));
  std::vector<double> skewed = u, shifted = u, sticky = u;
  for (double& x : skewed) x = std::pow(x, 1.1);                  // same support, slightly bent
  for (double& x : shifted) x = std::fmod(x + 0.02, 1.0) * 0.97;  // support [0, 0.97)
  for (size_t i = 1; i < sticky.size(); i += 2) sticky[i] = 0.8 * sticky[i - 1] + 0.2 * sticky[i];  // correlated pairs
  CHECK(judge_uniform(u).pass());
  CHECK(judge_uniform(skewed).ks >= kKs);
  CHECK(!judge_uniform(shifted).pass());
  CHECK(std::abs(judge_uniform(sticky).serial_z) >= kZ);

  const std::vector<double> z = as_doubles(Tensor::randn({kN}, &g, DType::Float64));
  std::vector<double> wide = z, offset = z;
  for (double& x : wide) x *= 1.05;
  for (double& x : offset) x += 0.05;
  CHECK(judge_normal(z).pass());
  CHECK(std::abs(judge_normal(wide).var_z) >= kZ);
  CHECK(std::abs(judge_normal(offset).mean_z) >= kZ);

  const std::vector<int64_t> d = Tensor::randint(0, 10, {kN}, &g).to_vector<int64_t>();
  CHECK(chi_square(d, 0, 10) < chi2_critical(9));
  std::vector<int64_t> modulo_biased;  // a 6-bit source taken modulo 10: 0-3 come 7 times in 64, 4-9 six
  for (int64_t i = 0; i < kN; ++i) modulo_biased.push_back(int64_t(g.next_u64() >> 58) % 10);
  CHECK(chi_square(modulo_biased, 0, 10) >= chi2_critical(9));
}

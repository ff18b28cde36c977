// The augmentation random source: std::mt19937_64 (its output sequence is fixed by the C++
// standard) with distributions written here rather than taken from <random>, whose
// uniform_real_distribution / normal_distribution differ between standard libraries. A seed
// therefore reproduces a pipeline bit for bit on any compiler.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace mrc::data::aug {

// splitmix64 finalizer: derives independent seeds from (seed, index...) without correlation.
inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
inline uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b = 0) {
  return mix64(mix64(mix64(seed) ^ a) ^ (b * 0xD1B54A32D192ED03ull));
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : engine_(mix64(seed)) {}

  uint64_t next() { return engine_(); }

  // [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  // [a, b) (a == b gives a).
  double uniform(double a, double b) { return a + (b - a) * uniform(); }

  // Integer in [lo, hi], both inclusive, unbiased (rejection on the top partial range).
  int64_t integer(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    const uint64_t range = uint64_t(hi - lo) + 1;
    if (range == 0) return int64_t(next());  // the full 64-bit range
    const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    uint64_t r;
    do r = next();
    while (r >= limit);
    return lo + int64_t(r % range);
  }

  bool bernoulli(double p) { return uniform() < p; }

  // Standard normal by the Box-Muller transform; the second value of each pair is kept.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1;
    do u1 = uniform();
    while (u1 <= 0.0);
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double t = 6.283185307179586 * u2;
    spare_ = r * std::sin(t);
    has_spare_ = true;
    return r * std::cos(t);
  }
  double normal(double mean, double stddev) { return mean + stddev * normal(); }

  // Fisher-Yates with our own integer().
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[size_t(integer(0, int64_t(i) - 1))]);
  }
  std::vector<int> permutation(int n) {
    std::vector<int> p(size_t(n > 0 ? n : 0));
    for (int i = 0; i < n; ++i) p[size_t(i)] = i;
    shuffle(p);
    return p;
  }

  // An independent child stream (consumes one draw of this one).
  Rng split() { return Rng(next()); }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace mrc::data::aug

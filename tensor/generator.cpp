// Generator: the engine's seeded source of randomness (see generator.h).
#include "tensor/generator.h"

#include <bit>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace mrc {

double Generator::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = uniform();
  while (u1 <= 0) u1 = uniform();
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2 * M_PI * u2);
  has_spare_ = true;
  return r * std::cos(2 * M_PI * u2);
}

int64_t Generator::randint(int64_t low, int64_t high) {
  if (high <= low) throw std::invalid_argument("randint: empty range [" + std::to_string(low) + ", " + std::to_string(high) + ")");
  const uint64_t range = uint64_t(high - low);
  const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t x;
  do x = engine_();
  while (x >= limit);
  return low + int64_t(x % range);
}

std::vector<int64_t> Generator::randperm(int64_t n) {
  std::vector<int64_t> p(size_t(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) p[size_t(i)] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[size_t(i)], p[size_t(randint(0, i + 1))]);
  return p;
}

std::string Generator::state() const {
  std::ostringstream os;
  os << engine_ << ' ' << has_spare_ << ' ' << std::bit_cast<uint64_t>(spare_);
  return os.str();
}

void Generator::set_state(const std::string& s) {
  std::istringstream is(s);
  uint64_t bits = 0;
  is >> engine_ >> has_spare_ >> bits;
  spare_ = std::bit_cast<double>(bits);
  if (!is) throw std::runtime_error("Generator::set_state: malformed state string");
}

Generator& default_generator() {
  static Generator g;
  return g;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace mrc

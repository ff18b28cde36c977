// Seeded random numbers for tensors and initializers. Numbers are drawn sequentially on the host
// (then uploaded for CUDA tensors), so a seed gives the same values whatever the thread count or device.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace mrc {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed) { manual_seed(seed); }
  void manual_seed(uint64_t seed) {
    engine_.seed(seed);
    has_spare_ = false;
  }
  uint64_t next_u64() { return engine_(); }
  double uniform() { return double(engine_() >> 11) * 0x1.0p-53; }        // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal();                                                        // Box–Muller, N(0, 1)
  int64_t randint(int64_t low, int64_t high);                             // [low, high), unbiased
  std::vector<int64_t> randperm(int64_t n);                               // Fisher–Yates

  // State round-trip for checkpoints (text form of the engine).
  std::string state() const;
  void set_state(const std::string& s);

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0;
};

// The process-wide default generator (used when none is passed).
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace mrc

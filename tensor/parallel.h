// CPU parallelism: a thin OpenMP wrapper with static chunking, so results never depend on timing.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace mrc {

int num_threads();
void set_num_threads(int n);

// Calls f(begin, end) on contiguous chunks of [0, n) covering it exactly once. Chunks are fixed by
// (n, grain) alone; work below `grain` runs on the calling thread.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  const int threads = num_threads();
  if (threads <= 1 || n <= grain || omp_in_parallel()) {
    f(int64_t(0), n);
    return;
  }
  const int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / std::max<int64_t>(grain, 1));
  const int64_t step = (n + chunks - 1) / chunks;
#pragma omp parallel for num_threads(int(chunks)) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t b = c * step, e = std::min(n, b + step);
    if (b < e) f(b, e);
  }
}

}  // namespace mrc

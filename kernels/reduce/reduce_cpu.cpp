// CPU row reductions: one row per task, sequential within a row, so results are deterministic.
#include <limits>

#include "kernels/reduce/reduce.h"
#include "tensor/parallel.h"

namespace mrc::cpu {

void reduce_rows(ReduceOp op, const Tensor& x, const Tensor& values, const Tensor& indices) {
  const int64_t rows = x.size(0), n = x.size(1);
  MRC_DISPATCH_ALL(x.dtype(), "reduce", [&] {
    using T = scalar_t;
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
    const T* xp = x.data<T>();
    T* vp = values.data<T>();
    int64_t* ip = indices.defined() ? indices.data<int64_t>() : nullptr;
    parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* row = xp + r * n;
        if (op == ReduceOp::Sum) {
          Acc acc = 0;
          for (int64_t k = 0; k < n; ++k) acc += Acc(row[k]);
          vp[r] = T(acc);
          continue;
        }
        int64_t best = 0;
        T bv = n ? row[0] : T(0);
        for (int64_t k = 1; k < n; ++k) {
          const T v = row[k];
          if (bv != bv) break;  // NaN wins, as in torch
          const bool better = op == ReduceOp::Max ? (v > bv || v != v) : (v < bv || v != v);
          if (better) {
            bv = v;
            best = k;
          }
        }
        vp[r] = bv;
        if (ip) ip[r] = best;
      }
    });
  });
}

}  // namespace mrc::cpu

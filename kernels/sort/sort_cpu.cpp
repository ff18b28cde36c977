// CPU sort / topk: one row per task; (value, index) pairs under a total order (NaN largest, ties by
// index), so the result is unique and independent of the algorithm and the thread count.
#include <algorithm>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/sort/sort.h"
#include "tensor/parallel.h"

namespace mrc::cpu {

namespace {

// a < b with NaN above everything.
template <class T>
bool below(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (b != b) return a == a;
    if (a != a) return false;
  }
  return a < b;
}

// Writes, per row, the first k elements of the row in the order (descending or ascending, index on ties).
void select_rows(const Tensor& x, int64_t k, bool descending, const Tensor& values, const Tensor& indices) {
  const int64_t rows = x.size(0), n = x.size(1);
  MRC_DISPATCH_ALL(x.dtype(), "sort", [&] {
    using T = scalar_t;
    using Item = std::pair<T, int64_t>;
    const T* xp = x.data<T>();
    T* vp = values.data<T>();
    int64_t* ip = indices.data<int64_t>();
    auto first = [descending](const Item& a, const Item& b) {
      const bool lt = descending ? below(b.first, a.first) : below(a.first, b.first);
      if (lt) return true;
      const bool gt = descending ? below(a.first, b.first) : below(b.first, a.first);
      return !gt && a.second < b.second;
    };
    parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
      std::vector<Item> items(static_cast<size_t>(n));
      for (int64_t r = b; r < e; ++r) {
        const T* row = xp + r * n;
        for (int64_t i = 0; i < n; ++i) items[size_t(i)] = {row[i], i};
        if (k < n) std::nth_element(items.begin(), items.begin() + k, items.end(), first);
        std::sort(items.begin(), items.begin() + k, first);
        for (int64_t i = 0; i < k; ++i) {
          vp[r * k + i] = items[size_t(i)].first;
          ip[r * k + i] = items[size_t(i)].second;
        }
      }
    });
  });
}

}  // namespace

void sort(const Tensor& x, bool descending, const Tensor& values, const Tensor& indices) {
  select_rows(x, x.size(1), descending, values, indices);
}

void topk(const Tensor& x, int64_t k, bool largest, const Tensor& values, const Tensor& indices) {
  select_rows(x, k, largest, values, indices);
}

}  // namespace mrc::cpu

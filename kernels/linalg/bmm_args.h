// The operands of a backend bmm as both backends read them: sizes and the in-place layout of each
// matrix (linalg.h's mat_layout), checked once here for the CPU and the CUDA entry points.
#pragma once
#include "kernels/linalg/linalg.h"

namespace mrc {

struct BmmArgs {
  int64_t batch, m, k, n;
  MatLayout la, lb;
  bool empty() const { return batch == 0 || m == 0 || n == 0; }
};

// a [B, M, K], b [B, K, N]; throws std::invalid_argument naming `where` when a matrix is neither row-
// nor column-major. An empty product is returned without checking layouts.
inline BmmArgs bmm_args(const Tensor& a, const Tensor& b, const char* where) {
  BmmArgs r{a.size(0), a.size(1), a.size(2), b.size(2), {}, {}};
  if (r.empty()) return r;
  r.la = mat_layout(r.m, r.k, a.stride(1), a.stride(2));
  r.lb = mat_layout(r.k, r.n, b.stride(1), b.stride(2));
  if (!r.la.ok || !r.lb.ok) throw_arg(where, "operand layout is neither row- nor column-major");
  return r;
}

}  // namespace mrc

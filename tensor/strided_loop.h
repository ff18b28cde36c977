// The CPU iteration engine behind copies and elementwise kernels: walks N operands that share a shape
// (with their own element strides, 0 for broadcast dims), collapsing dims that are contiguous for every
// operand, and hands out inner rows in parallel.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "tensor/parallel.h"
#include "tensor/tensor.h"

namespace mrc {

// inner(offsets, n, inner_strides): process n elements starting at offsets[k] with step inner_strides[k].
template <size_t N, class F>
void for_each_strided(const Shape& shape, const std::array<Shape, N>& strides, F&& inner) {
  Shape dims;
  std::array<Shape, N> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    dims.push_back(shape[d]);
    for (size_t k = 0; k < N; ++k) st[k].push_back(strides[k][d]);
  }
  for (int64_t s : shape)
    if (s == 0) return;
  // merge dim i into i+1 when every operand is contiguous across them
  for (int64_t i = int64_t(dims.size()) - 2; i >= 0; --i) {
    bool ok = true;
    for (size_t k = 0; k < N; ++k) ok = ok && st[k][i] == st[k][i + 1] * dims[i + 1];
    if (!ok) continue;
    dims[i] *= dims[i + 1];
    dims.erase(dims.begin() + i + 1);
    for (size_t k = 0; k < N; ++k) {
      st[k][i] = st[k][i + 1];
      st[k].erase(st[k].begin() + i + 1);
    }
  }
  std::array<int64_t, N> zero{}, inner_st{};
  if (dims.empty()) {
    inner(zero, int64_t(1), inner_st);
    return;
  }
  const int64_t nd = int64_t(dims.size());
  const int64_t len = dims[nd - 1];
  for (size_t k = 0; k < N; ++k) inner_st[k] = st[k][nd - 1];
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < nd; ++d) rows *= dims[d];
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(len, 1));
  parallel_for(rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      std::array<int64_t, N> off{};
      int64_t rem = r;
      for (int64_t d = nd - 2; d >= 0; --d) {
        const int64_t i = rem % dims[d];
        rem /= dims[d];
        for (size_t k = 0; k < N; ++k) off[k] += i * st[k][d];
      }
      inner(off, len, inner_st);
    }
  });
}

}  // namespace mrc

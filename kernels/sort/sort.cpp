// sort / argsort / topk: move dim last, run the backend on rows, move it back; the values' backward
// scatters the gradient to the chosen positions.
#include "kernels/sort/sort.h"

#include <string>

#include "kernels/index/index.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"

namespace mrc {

namespace {

// Runs `k` of each row along dim (k = size for sort); returns (values, indices) shaped like x with k at dim.
std::pair<Tensor, Tensor> along_dim(const Tensor& x, int64_t d, int64_t k, bool first_large, bool is_sort) {
  const int64_t n = x.size(d), last = x.dim() - 1;
  const Tensor rows = x.detach().transpose(d, last).contiguous();
  const int64_t nrows = n == 0 ? 0 : rows.numel() / n;
  Tensor values = Tensor::empty({nrows, k}, x.dtype(), x.device());
  Tensor indices = Tensor::empty({nrows, k}, DType::Int64, x.device());
  if (nrows > 0 && k > 0) {
    const Tensor r2 = rows.view({nrows, n});
    if (is_sort)
      MRC_DISPATCH_DEVICE(x, sort, r2, first_large, values, indices);
    else
      MRC_DISPATCH_DEVICE(x, topk, r2, k, first_large, values, indices);
  }
  Shape moved = rows.shape();
  moved[size_t(last)] = k;
  values = values.view(moved).transpose(d, last).contiguous();
  indices = indices.view(moved).transpose(d, last).contiguous();
  return {values, indices};
}

Tensor record_values(const Tensor& x, Tensor values, const Tensor& indices, int64_t d, const char* name) {
  const Shape in_shape = x.shape();
  const SavedTensor si(indices);
  return record(values, {x}, name, [in_shape, d, si](const Tensor& g) -> std::vector<Tensor> {
    return {scatter_add(Tensor::zeros(in_shape, g.dtype(), g.device()), d, si.get(), g)};
  });
}

}  // namespace

std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending, bool /*stable: always*/) {
  check_defined("sort", x, "x");
  if (x.dim() == 0) return {x.clone(), Tensor::zeros({}, DType::Int64, x.device())};
  const int64_t d = x.normalize_dim(dim);
  auto [v, i] = along_dim(x, d, x.size(d), descending, true);
  return {record_values(x, v, i, d, "sort"), i};
}

Tensor argsort(const Tensor& x, int64_t dim, bool descending, bool stable) {
  return sort(x.detach(), dim, descending, stable).second;
}

std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool /*sorted: always*/) {
  check_defined("topk", x, "x");
  const int64_t n = x.dim() == 0 ? 1 : x.size(dim);
  if (k < 0 || k > n)
    throw_arg("topk", "k = " + std::to_string(k) + " is out of range for a dimension of size " + std::to_string(n));
  if (x.dim() == 0) return {x.clone(), Tensor::zeros({}, DType::Int64, x.device())};
  const int64_t d = x.normalize_dim(dim);
  auto [v, i] = along_dim(x, d, k, largest, false);
  return {record_values(x, v, i, d, "topk"), i};
}

}  // namespace mrc

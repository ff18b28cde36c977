// Reductions: move reduced dims last, reduce rows on the backend, and the derivative of each.
#include "kernels/reduce/reduce.h"

#include <algorithm>

#include "kernels/elementwise/elementwise.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"

namespace mrc {

namespace {

struct Plan {
  std::vector<int64_t> dims;  // sorted, unique, normalized
  Shape out_shape;            // without the reduced dims
  Shape keep_shape;           // reduced dims kept as 1
  int64_t count = 1;          // elements reduced per output
};

Plan plan(const Tensor& x, const std::vector<int64_t>& dims_in, const char* op) {
  Plan p;
  if (dims_in.empty()) {
    for (int64_t d = 0; d < x.dim(); ++d) p.dims.push_back(d);
  } else {
    for (int64_t d : dims_in) p.dims.push_back(x.normalize_dim(d));
  }
  std::sort(p.dims.begin(), p.dims.end());
  if (std::adjacent_find(p.dims.begin(), p.dims.end()) != p.dims.end()) throw_arg(op, "a dim is repeated");
  for (int64_t d = 0; d < x.dim(); ++d) {
    const bool red = std::binary_search(p.dims.begin(), p.dims.end(), d);
    p.keep_shape.push_back(red ? 1 : x.size(d));
    if (red)
      p.count *= x.size(d);
    else
      p.out_shape.push_back(x.size(d));
  }
  return p;
}

// Runs the backend on x with `dims` moved last; returns values (and indices) shaped out_shape.
std::pair<Tensor, Tensor> reduce_raw(ReduceOp op, const Tensor& x, const Plan& p, bool want_indices) {
  std::vector<int64_t> perm;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (!std::binary_search(p.dims.begin(), p.dims.end(), d)) perm.push_back(d);
  for (int64_t d : p.dims) perm.push_back(d);
  const int64_t rows = shape_numel(p.out_shape);
  Tensor rows2d = x.detach().permute(perm).contiguous().view({rows, p.count});
  Tensor values = Tensor::empty({rows}, x.dtype(), x.device());
  Tensor indices = want_indices ? Tensor::empty({rows}, DType::Int64, x.device()) : Tensor();
  if (rows > 0) {
    if (p.count == 0) {
      if (op != ReduceOp::Sum) throw_arg("max/min", "cannot reduce over an empty dimension");
      values.fill_(0);
    } else {
      MRC_DISPATCH_DEVICE(x, reduce_rows, op, rows2d, values, indices);
    }
  }
  return {values.view(p.out_shape), want_indices ? indices.view(p.out_shape) : Tensor()};
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const Plan p = plan(x, dims, "sum");
  Tensor v = reduce_raw(ReduceOp::Sum, x, p, false).first;
  if (keepdim) v = v.view(p.keep_shape);
  const Shape in_shape = x.shape(), keep = p.keep_shape;
  return record(v, {x}, "sum", [in_shape, keep](const Tensor& g) -> std::vector<Tensor> {
    return {g.reshape(keep).expand(in_shape).contiguous()};
  });
}

Tensor sum(const Tensor& x) { return sum(x, {}, false); }

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  if (!x.is_floating_point()) throw_arg("mean", std::string("needs a floating-point tensor, got ") + dtype_name(x.dtype()));
  const Plan p = plan(x, dims, "mean");
  return mul(sum(x, dims, keepdim), 1.0 / double(std::max<int64_t>(p.count, 1)));
}

Tensor mean(const Tensor& x) { return mean(x, {}, false); }

static std::pair<Tensor, Tensor> extreme(ReduceOp op, const Tensor& x, int64_t dim, bool keepdim, const char* name) {
  if (x.dim() == 0) {
    Tensor v = x.clone();
    return {v, Tensor::zeros({}, DType::Int64, x.device())};
  }
  const int64_t d = x.normalize_dim(dim);
  const Plan p = plan(x, {d}, name);
  auto [v, idx] = reduce_raw(op, x, p, true);
  if (keepdim) {
    v = v.view(p.keep_shape);
    idx = idx.view(p.keep_shape);
  }
  const Shape in_shape = x.shape(), keep = p.keep_shape;
  SavedTensor si(idx);
  v = record(v, {x}, name, [in_shape, keep, d, si](const Tensor& g) -> std::vector<Tensor> {
    // one-hot of the chosen index along d, built from an arange broadcast against the indices
    Shape ar_shape(in_shape.size(), 1);
    ar_shape[size_t(d)] = in_shape[size_t(d)];
    const Tensor ar = Tensor::arange(in_shape[size_t(d)], DType::Int64, g.device()).view(ar_shape);
    const Tensor hit = eq(ar, si.get().reshape(keep));
    return {where(hit, g.reshape(keep), Tensor::zeros({}, g.dtype(), g.device())).expand(in_shape).contiguous()};
  });
  return {v, idx};
}

std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) { return extreme(ReduceOp::Max, x, dim, keepdim, "max"); }
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) { return extreme(ReduceOp::Min, x, dim, keepdim, "min"); }
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { return max(x.detach(), dim, keepdim).second; }
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) { return min(x.detach(), dim, keepdim).second; }

static Tensor extreme_all(ReduceOp op, const Tensor& x, const char* name) {
  if (x.numel() == 0) throw_arg(name, "cannot reduce an empty tensor");
  const Plan p = plan(x, {}, name);
  Tensor v = reduce_raw(op, x, p, false).first;
  SavedTensor sx(x), sv(v);
  return record(v, {x}, name, [sx, sv](const Tensor& g) -> std::vector<Tensor> {
    const Tensor xv = sx.get();
    const Tensor hit = eq(xv, sv.get()).to(g.dtype());
    return {mul(hit, div(g, sum(hit)))};
  });
}
Tensor max(const Tensor& x) { return extreme_all(ReduceOp::Max, x, "max"); }
Tensor min(const Tensor& x) { return extreme_all(ReduceOp::Min, x, "min"); }

Tensor norm(const Tensor& x) { return sqrt(sum(mul(x, x))); }

Tensor any(const Tensor& x) {
  Tensor nz = ne(x.detach(), 0.0);
  if (x.numel() == 0) return Tensor::zeros({}, DType::UInt8, x.device());
  return reduce_raw(ReduceOp::Max, nz, plan(nz, {}, "any"), false).first;
}

int64_t count_nonzero(const Tensor& x) {
  if (x.numel() == 0) return 0;
  return sum(ne(x.detach(), 0.0).to(DType::Int64)).item<int64_t>();
}

}  // namespace mrc

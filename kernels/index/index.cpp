// Indexing ops: argument checks, device dispatch, and the backward of each (written with the others:
// gather <-> scatter_add, index_select <-> index_add).
#include "kernels/index/index.h"

#include <string>

#include "kernels/elementwise/elementwise.h"
#include "kernels/reduce/reduce.h"
#include "tensor/autograd.h"
#include "tensor/host_sync.h"
#include "tensor/dispatch.h"

namespace mrc {

namespace {

// The index as contiguous int64 on x's device, or a clear error.
Tensor as_index(const char* op, const Tensor& index, const Tensor& x, const char* arg = "index") {
  check_defined(op, index, arg);
  if (index.dtype() != DType::Int64 && index.dtype() != DType::Int32)
    throw_arg(op, std::string(arg) + " must be int64 (or int32), got " + dtype_name(index.dtype()));
  if (index.device() != x.device())
    throw_arg(op, std::string(arg) + " is on " + index.device().str() + " but the input is on " + x.device().str());
  return index.detach().to(DType::Int64).contiguous();
}

void check_range(const char* op, const Tensor& index, int64_t n, int64_t dim) {
  if (index.numel() == 0) return;
  int64_t lo, hi;
  if (index.device().is_cpu()) {
    const int64_t* p = index.data<int64_t>();
    lo = hi = p[0];
    for (int64_t i = 1; i < index.numel(); ++i) {
      lo = std::min(lo, p[i]);
      hi = std::max(hi, p[i]);
    }
  } else {
    lo = min(index).item<int64_t>();
    hi = max(index).item<int64_t>();
  }
  if (lo < 0 || hi >= n)
    throw_arg(op, "index " + std::to_string(lo < 0 ? lo : hi) + " is out of range for dimension " + std::to_string(dim) +
                      " of size " + std::to_string(n));
}

int64_t index_dim(const char* op, const Tensor& x, int64_t dim) {
  if (x.dim() == 0) throw_arg(op, "needs a tensor with at least one dimension, got a 0-D tensor");
  return x.normalize_dim(dim);
}

// A view of t whose sizes are `sizes` (each <= t's) at the same strides and offset.
Tensor shrink(const Tensor& t, const Shape& sizes) { return make_view(t.detach(), sizes, t.strides(), t.offset()); }

Shape with_size(Shape s, int64_t dim, int64_t n) {
  s[size_t(dim)] = n;
  return s;
}

// For index_add / index_copy: src must be x's shape with index.numel() at dim.
void check_put_args(const char* op, const Tensor& x, int64_t d, const Tensor& idx, const Tensor& src) {
  check_defined(op, src, "src");
  check_same_dtype(op, x, src);
  check_same_device(op, x, src);
  if (idx.dim() > 1) throw_arg(op, "index must be 1-D, got shape " + shape_str(idx.shape()));
  const Shape want = with_size(x.shape(), d, idx.numel());
  if (src.shape() != want)
    throw_arg(op, "src has shape " + shape_str(src.shape()) + ", expected " + shape_str(want) + " (x " +
                      shape_str(x.shape()) + " with the index length at dim " + std::to_string(d) + ")");
  check_range(op, idx, x.size(d), d);
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_defined("index_select", x, "x");
  const int64_t d = index_dim("index_select", x, dim);
  const Tensor idx = as_index("index_select", index, x);
  if (idx.dim() > 1) throw_arg("index_select", "index must be 1-D, got shape " + shape_str(idx.shape()));
  check_range("index_select", idx, x.size(d), d);
  Tensor out = Tensor::empty(with_size(x.shape(), d, idx.numel()), x.dtype(), x.device());
  if (out.numel() > 0) MRC_DISPATCH_DEVICE(x, index_select, x.detach().contiguous(), d, idx, out);
  const Shape in_shape = x.shape();
  const SavedTensor si(idx);
  return record(out, {x}, "index_select", [in_shape, d, si](const Tensor& g) -> std::vector<Tensor> {
    return {index_add(Tensor::zeros(in_shape, g.dtype(), g.device()), d, si.get(), g)};
  });
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  check_defined("index_add", x, "x");
  const int64_t d = index_dim("index_add", x, dim);
  const Tensor idx = as_index("index_add", index, x);
  check_put_args("index_add", x, d, idx, src);
  Tensor out = x.detach().clone();
  if (src.numel() > 0) MRC_DISPATCH_DEVICE(x, index_add, out, d, idx, src.detach().contiguous());
  const SavedTensor si(idx);
  return record(out, {x, src}, "index_add", [d, si](const Tensor& g) -> std::vector<Tensor> {
    return {g, index_select(g, d, si.get())};
  });
}

Tensor index_copy(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  check_defined("index_copy", x, "x");
  const int64_t d = index_dim("index_copy", x, dim);
  const Tensor idx = as_index("index_copy", index, x);
  check_put_args("index_copy", x, d, idx, src);
  Tensor out = x.detach().clone();
  if (src.numel() > 0) MRC_DISPATCH_DEVICE(x, index_copy, out, d, idx, src.detach().contiguous());
  const Shape src_shape = src.shape();
  const SavedTensor si(idx);
  return record(out, {x, src}, "index_copy", [d, si, src_shape](const Tensor& g) -> std::vector<Tensor> {
    // overwritten slices get no gradient in x; src's slices take theirs
    const Tensor i = si.get();
    return {index_copy(g, d, i, Tensor::zeros(src_shape, g.dtype(), g.device())), index_select(g, d, i)};
  });
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_defined("gather", x, "x");
  const int64_t d = index_dim("gather", x, dim);
  const Tensor idx = as_index("gather", index, x);
  if (idx.dim() != x.dim())
    throw_arg("gather", "index has " + std::to_string(idx.dim()) + " dims but x has " + std::to_string(x.dim()));
  for (int64_t k = 0; k < x.dim(); ++k)
    if (k != d && idx.size(k) > x.size(k))
      throw_arg("gather", "index shape " + shape_str(idx.shape()) + " exceeds x shape " + shape_str(x.shape()) +
                              " at dim " + std::to_string(k));
  check_range("gather", idx, x.size(d), d);
  Tensor out = Tensor::empty(idx.shape(), x.dtype(), x.device());
  if (out.numel() > 0)
    MRC_DISPATCH_DEVICE(x, gather, shrink(x, with_size(idx.shape(), d, x.size(d))), d, idx, out);
  const Shape in_shape = x.shape();
  const SavedTensor si(idx);
  return record(out, {x}, "gather", [in_shape, d, si](const Tensor& g) -> std::vector<Tensor> {
    return {scatter_add(Tensor::zeros(in_shape, g.dtype(), g.device()), d, si.get(), g)};
  });
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  check_defined("scatter_add", x, "x");
  check_defined("scatter_add", src, "src");
  const int64_t d = index_dim("scatter_add", x, dim);
  const Tensor idx = as_index("scatter_add", index, x);
  check_same_dtype("scatter_add", x, src);
  check_same_device("scatter_add", x, src);
  if (idx.dim() != x.dim() || src.dim() != x.dim())
    throw_arg("scatter_add", "x, index and src must have the same number of dims, got " + shape_str(x.shape()) + ", " +
                                 shape_str(idx.shape()) + " and " + shape_str(src.shape()));
  for (int64_t k = 0; k < x.dim(); ++k) {
    if (idx.size(k) > src.size(k))
      throw_arg("scatter_add", "index shape " + shape_str(idx.shape()) + " exceeds src shape " +
                                   shape_str(src.shape()) + " at dim " + std::to_string(k));
    if (k != d && idx.size(k) > x.size(k))
      throw_arg("scatter_add", "index shape " + shape_str(idx.shape()) + " exceeds x shape " + shape_str(x.shape()) +
                                   " at dim " + std::to_string(k));
  }
  check_range("scatter_add", idx, x.size(d), d);
  Tensor out = x.detach().clone();
  if (idx.numel() > 0)
    MRC_DISPATCH_DEVICE(x, scatter_add, shrink(out, with_size(idx.shape(), d, x.size(d))), d, idx, shrink(src, idx.shape()));
  const Shape src_shape = src.shape();
  const SavedTensor si(idx);
  return record(out, {x, src}, "scatter_add", [d, si, src_shape](const Tensor& g) -> std::vector<Tensor> {
    const Tensor idx = si.get();
    Tensor gs = gather(g, d, idx);
    if (gs.shape() != src_shape) {  // src elements the index does not cover get no gradient
      Tensor z = Tensor::zeros(src_shape, g.dtype(), g.device());
      shrink(z, idx.shape()).copy_(gs);
      gs = z;
    }
    return {g, gs};
  });
}

Tensor nonzero(const Tensor& x) {
  check_defined("nonzero", x, "x");
  if (x.device().is_cpu() && x.numel() > 0) count_host_sync();  // on CUDA the count's item() is counted
  return MRC_DISPATCH_DEVICE(x, nonzero, x.detach().contiguous());
}

Tensor boolean_mask(const Tensor& x, const Tensor& mask) {
  check_defined("boolean_mask", x, "x");
  check_defined("boolean_mask", mask, "mask");
  if (mask.dtype() != DType::UInt8) throw_arg("boolean_mask", std::string("mask must be uint8, got ") + dtype_name(mask.dtype()));
  if (x.dim() == 0) throw_arg("boolean_mask", "x must have at least one dimension");
  if (mask.dim() != 1 || mask.size(0) != x.size(0))
    throw_arg("boolean_mask", "mask must be 1-D of length " + std::to_string(x.size(0)) + " (x " + shape_str(x.shape()) +
                                  "), got shape " + shape_str(mask.shape()));
  check_same_device("boolean_mask", x, mask);
  return index_select(x, 0, nonzero(mask).view({-1}));
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_defined("masked_fill", x, "x");
  check_defined("masked_fill", mask, "mask");
  if (mask.dtype() != DType::UInt8) throw_arg("masked_fill", std::string("mask must be uint8, got ") + dtype_name(mask.dtype()));
  check_same_device("masked_fill", x, mask);
  if (!broadcasts_to(mask.shape(), x.shape()))
    throw_arg("masked_fill", "mask of shape " + shape_str(mask.shape()) + " does not broadcast to x's shape " + shape_str(x.shape()));
  return where(mask, Tensor::scalar(value, x.dtype(), x.device()), x);
}

}  // namespace mrc

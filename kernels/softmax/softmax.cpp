// softmax / log_softmax: checks, dispatch, and backward formulas written with elementwise and reduce ops
// (softmax: y * (g - sum(g * y)); log_softmax: g - exp(y) * sum(g)).
#include "kernels/softmax/softmax.h"

#include <string>

#include "kernels/elementwise/elementwise.h"
#include "kernels/reduce/reduce.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"

namespace mrc {

namespace {

Tensor run(const char* op, const Tensor& x, int64_t dim, bool log) {
  check_defined(op, x, "x");
  if (x.dtype() != DType::Float32 && x.dtype() != DType::Float64)
    throw_arg(op, std::string("x must be float32 or float64, got ") + dtype_name(x.dtype()));
  const int64_t d = x.normalize_dim(dim);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (out.numel() > 0) MRC_DISPATCH_DEVICE(x, softmax, x.detach().contiguous(), x.dim() ? d : 0, log, out);
  if (!needs_grad({&x})) return out;
  const SavedTensor so(out);
  const std::vector<int64_t> dims = x.dim() ? std::vector<int64_t>{d} : std::vector<int64_t>{};
  if (log)
    return record(out, {x}, op, [so, dims](const Tensor& g) -> std::vector<Tensor> {
      return {sub(g, mul(exp(so.get()), sum(g, dims, true)))};
    });
  return record(out, {x}, op, [so, dims](const Tensor& g) -> std::vector<Tensor> {
    const Tensor y = so.get();
    return {mul(y, sub(g, sum(mul(g, y), dims, true)))};
  });
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return run("softmax", x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return run("log_softmax", x, dim, true); }

}  // namespace mrc

// softmax / log_softmax composed from reductions and elementwise ops; the subtracted maximum is a
// constant shift (detached), which leaves both functions and their gradients unchanged.
#include "kernels/softmax/softmax.h"

#include "kernels/elementwise/elementwise.h"
#include "kernels/reduce/reduce.h"

namespace mrc {

namespace {
Tensor shifted(const Tensor& x, int64_t dim, const char* op) {
  check_defined(op, x, "input");
  if (!x.is_floating_point()) throw_arg(op, std::string("needs a floating-point tensor, got ") + dtype_name(x.dtype()));
  if (x.numel() == 0) return x;
  return sub(x, max(x.detach(), dim, /*keepdim=*/true).first);
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) {
  const Tensor z = shifted(x, dim, "softmax");
  if (z.numel() == 0) return z.clone();
  const Tensor e = exp(z);
  return div(e, sum(e, {dim}, true));
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  const Tensor z = shifted(x, dim, "log_softmax");
  if (z.numel() == 0) return z.clone();
  return sub(z, log(sum(exp(z), {dim}, true)));
}

}  // namespace mrc

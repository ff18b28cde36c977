// BalancedPositiveNegativeSampler without host reads (see box_ops_op.h): every step is a device op, and the
// only data-dependent number, how many positives were taken, never leaves the device.
#include <string>

#include "kernels/box_ops/box_ops_op.h"
#include "kernels/elementwise/elementwise.h"
#include "kernels/index/index.h"
#include "kernels/reduce/reduce.h"
#include "kernels/sort/sort.h"
#include "tensor/autograd.h"

namespace mrc {

namespace {

// rank[i] = the position of element i in the stable ascending order of `keys` (int64 [n]): the inverse of
// the sorting permutation, written by index_copy (parallel on CUDA; scatter_add walks a 1-D index in one thread).
Tensor ranks_of(const Tensor& keys) {
  const int64_t n = keys.size(0);
  const Tensor order = argsort(keys, 0, false, true);
  const Tensor positions = Tensor::arange(n, DType::Int64, keys.device());
  return index_copy(Tensor::zeros({n}, DType::Int64, keys.device()), 0, order, positions);
}

// The eligible elements whose rank among the eligible ones (random keys, ineligible keys sorted last) is
// below `quota` (a number or a 0-d device tensor).
Tensor first_of_pool(const Tensor& eligible, const Tensor& keys, const Tensor& quota) {
  const Tensor pool_keys = where(eligible, keys, 2.0);  // keys are in [0, 1): the pool sorts first
  return logical_and(eligible, lt(ranks_of(pool_keys), quota));
}

}  // namespace

SampledMasks balanced_sample_device(const Tensor& labels, int64_t batch_size_per_image, double positive_fraction,
                                    Generator& gen) {
  const char* op = "balanced_sample_device";
  check_defined(op, labels, "labels");
  if (labels.dim() != 1) throw_arg(op, "labels must be 1-D, got " + shape_str(labels.shape()));
  if (batch_size_per_image < 0 || !(positive_fraction >= 0 && positive_fraction <= 1))
    throw_arg(op, "batch_size_per_image must be >= 0 and positive_fraction in [0, 1], got " +
                      std::to_string(batch_size_per_image) + " and " + std::to_string(positive_fraction));
  NoGradGuard ng;
  const Device dev = labels.device();
  const int64_t n = labels.size(0);
  if (n == 0) return {Tensor::zeros({0}, DType::UInt8, dev), Tensor::zeros({0}, DType::UInt8, dev)};
  const Tensor keys = Tensor::rand({n}, &gen, DType::Float32, dev);
  const Tensor l = labels.to(DType::Int64);
  const int64_t pos_quota = int64_t(double(batch_size_per_image) * positive_fraction);
  const Tensor pos = first_of_pool(ge(l, 1.0), keys, Tensor::scalar(double(pos_quota), DType::Int64, dev));
  // batch - positives taken, on the device
  const Tensor neg_quota =
      add(Tensor::scalar(double(batch_size_per_image), DType::Int64, dev), sum(pos.to(DType::Int64)), -1);
  const Tensor neg = first_of_pool(eq(l, 0.0), keys, neg_quota);
  return {pos.to(DType::UInt8), neg.to(DType::UInt8)};
}

}  // namespace mrc

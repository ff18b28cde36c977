// A tensor seen around one of its dims as [outer, size, inner] (the dims before, the dim, the dims
// after), and a shape or stride list with that dim removed: the geometry the index and softmax backends
// (CPU and CUDA) share, written once on the host.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace mrc {

struct AroundDim {
  int64_t outer = 1, size = 1, inner = 1;
};

// A 0-d tensor is one element: outer = size = inner = 1.
inline AroundDim around_dim(const Tensor& t, int64_t dim) {
  AroundDim a;
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (d < dim) a.outer *= t.shape()[size_t(d)];
    if (d > dim) a.inner *= t.shape()[size_t(d)];
  }
  a.size = t.dim() ? t.shape()[size_t(dim)] : 1;
  return a;
}

inline Shape drop_dim(const Shape& s, int64_t dim) {
  Shape r = s;
  r.erase(r.begin() + dim);
  return r;
}

}  // namespace mrc

// Many one-element tensors read to the host at once (defined in join.cpp beside cat).
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace mrc {

// The values of one-element tensors (one device, any dtype) read to the host in one transfer: one host
// sync on CUDA instead of one per tensor. Empty input: empty result.
std::vector<double> read_scalars(const std::vector<Tensor>& scalars);

}  // namespace mrc

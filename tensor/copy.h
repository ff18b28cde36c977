// Raw (history-free) strided copy with dtype conversion, and fill — the primitives every device must
// provide for the tensor core itself. Shapes must match exactly (broadcast src with make_view first).
#pragma once
#include "tensor/tensor.h"

namespace mrc {

void copy_strided(const Tensor& src, const Tensor& dst);  // any dtypes; same device or across devices
void fill_strided(const Tensor& dst, double value);

namespace cpu {
void copy_strided(const Tensor& src, const Tensor& dst);
void fill_strided(const Tensor& dst, double value);
}  // namespace cpu

#ifdef MRC_WITH_CUDA
namespace cuda {
void copy_strided(const Tensor& src, const Tensor& dst);      // both on the same CUDA device
void fill_strided(const Tensor& dst, double value);
void copy_host_to_device(const void* host, void* dev, size_t nbytes, int device);  // through a pinned buffer
void copy_device_to_host(const void* dev, void* host, size_t nbytes, int device);
}  // namespace cuda
#endif

}  // namespace mrc
